/**
 * hfm-style exec checks: a platform-owned program (site.yaml `checks.commands`) run with an argv,
 * never through a shell, under the VIP's timeout (SIGTERM to its process group, SIGKILL a little
 * later). The Nagios plugin convention decides: exit 0 up, 1 (WARNING) and 2 (CRITICAL) down,
 * anything else (3 = UNKNOWN, a signal, a timeout, a program that cannot start) unknown.
 *
 * A VIP with exec checks runs them together with its monitor URI check; the round is down when any
 * says down, unknown when none says down and one is unknown, up when all are up.
 */

import { type CheckOutcome, startCheck } from './checks.ts';
import { runProcess } from './run-process.ts';
import type { Timers } from './timers.ts';
import type { ExecCheckSpec, VipConfig } from './types.ts';

/** How long a plugin gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 500;

export type ExecVerdict = 'up' | 'down' | 'unknown';

/** The Nagios plugin convention, as hfm reads it. */
export function verdictOf(exitCode: number | null): ExecVerdict {
  if (exitCode === 0) return 'up';
  if (exitCode === 1 || exitCode === 2) return 'down';
  return 'unknown';
}

/** Runs one exec check; never rejects. */
export async function execCheck(
  spec: ExecCheckSpec,
  timeoutMs: number,
  timers: Timers,
): Promise<CheckOutcome> {
  const r = await runProcess({
    argv: spec.argv,
    env: { INTENTLB_CHECK: spec.name },
    timeoutMs,
    killGraceMs: KILL_GRACE_MS,
    timers,
  });
  const verdict = r.timedOut ? 'unknown' : verdictOf(r.exitCode);
  const first = r.output.split('\n')[0]?.slice(0, 200) ?? '';
  const detail = r.error ?? (r.signal !== null ? `signal ${r.signal}` : `exit ${r.exitCode}`);
  if (verdict === 'up') return { ok: true, latencyMs: r.durationMs };
  return {
    ok: false,
    latencyMs: r.durationMs,
    error: `${spec.name}: ${detail}${first === '' ? '' : ` (${first})`}`,
    ...(verdict === 'unknown' ? { unknown: true } : {}),
  };
}

/** Combines the outcomes of one round: any down is down, else any unknown is unknown, else up. */
export function combineOutcomes(outcomes: readonly CheckOutcome[]): CheckOutcome {
  const latencyMs = Math.max(0, ...outcomes.map((o) => o.latencyMs));
  const down = outcomes.find((o) => !o.ok && o.unknown !== true);
  if (down !== undefined)
    return { ok: false, latencyMs, ...(down.error === undefined ? {} : { error: down.error }) };
  const unknown = outcomes.find((o) => o.unknown === true);
  if (unknown !== undefined)
    return {
      ok: false,
      unknown: true,
      latencyMs,
      ...(unknown.error === undefined ? {} : { error: unknown.error }),
    };
  return { ok: true, latencyMs };
}

/** One check round of a VIP: its monitor check, and its exec checks when it has any. */
export function startVipCheck(vip: VipConfig, timers: Timers, done: (outcome: CheckOutcome) => void): void {
  const execs = vip.exec ?? [];
  if (execs.length === 0) {
    startCheck(vip.check, vip.timeoutMs, done, timers);
    return;
  }
  const monitor = new Promise<CheckOutcome>((resolve) =>
    startCheck(vip.check, vip.timeoutMs, resolve, timers),
  );
  Promise.all([monitor, ...execs.map((e) => execCheck(e, vip.timeoutMs, timers))]).then(
    (all) => done(combineOutcomes(all)),
    (err: unknown) =>
      done({ ok: false, latencyMs: 0, error: err instanceof Error ? err.message : String(err) }),
  );
}
