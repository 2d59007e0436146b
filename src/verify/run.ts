import type { Socket } from 'node:net';
/**
 * Runs planned checks in parallel (bounded), each with its own timeout, all within one deadline:
 * a check still running when the deadline passes is reported as failed, and the run returns.
 */
import { CHECK_KINDS } from './kinds/index.ts';
import type { Outcome, PlannedCheck, ProbeEnv, VerifyResult } from './types.ts';

export interface RunOptions {
  /** Per probe. */
  timeoutMs: number;
  /** For the whole run. */
  deadlineMs: number;
  concurrency: number;
  now: Date;
}

const KINDS = new Map(CHECK_KINDS.map((k) => [k.kind, k]));

export async function runChecks(planned: readonly PlannedCheck[], opts: RunOptions): Promise<VerifyResult[]> {
  const sharedValues = new Map<string, unknown>();
  const closers: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const env: ProbeEnv = {
    timeoutMs: opts.timeoutMs,
    now: opts.now,
    own(socket) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
    shared<T>(key: string, make: () => T, close?: (v: T) => void): T {
      if (!sharedValues.has(key)) {
        const v = make();
        sharedValues.set(key, v);
        if (close) closers.push(() => close(v));
      }
      return sharedValues.get(key) as T;
    },
  };
  const results: (VerifyResult | undefined)[] = planned.map(() => undefined);
  const started: number[] = planned.map(() => 0);
  let next = 0;
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      expired = true;
      resolve();
    }, opts.deadlineMs);
  });
  const worker = async (): Promise<void> => {
    while (next < planned.length && !expired) {
      const i = next++;
      const p = planned[i]!;
      started[i] = performance.now();
      const outcome = await probeOne(p, env);
      results[i] = {
        service: p.service,
        check: p.check,
        ...outcome,
        ms: Math.round(performance.now() - started[i]!),
      };
    }
  };
  const workers = Array.from({ length: Math.min(opts.concurrency, planned.length) }, worker);
  try {
    await Promise.race([Promise.all(workers), deadline]);
  } finally {
    clearTimeout(timer);
    for (const c of closers) c();
    // Probes still running at the deadline: their answers no longer count, their sockets go.
    for (const s of sockets) s.destroy();
  }
  return planned.map(
    (p, i) =>
      results[i] ?? {
        service: p.service,
        check: p.check,
        ok: false,
        detail:
          started[i] === 0
            ? `not started within the ${opts.deadlineMs} ms deadline`
            : `not finished within the ${opts.deadlineMs} ms deadline`,
        ms: started[i] === 0 ? 0 : Math.round(performance.now() - started[i]!),
      },
  );
}

async function probeOne(p: PlannedCheck, env: ProbeEnv): Promise<Outcome> {
  const kind = KINDS.get(p.kind);
  if (kind === undefined) throw new Error(`verify: no check kind ${p.kind}`);
  try {
    return await kind.probe(p.spec, env);
  } catch (e) {
    return { ok: false, detail: `probe failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}
