/**
 * healthd's side of BIRD's VIP state file (runtime/bird-vip-state.ts): the file BIRD's
 * configuration includes, so that a `configure` keeps each VIP protocol as healthd last had it
 * confirmed instead of resetting it to disabled (ADR 0026).
 */
import { writeVipState } from '../runtime/bird-vip-state.ts';
import type { HealthdState, VipConfig } from './types.ts';

/**
 * Per protocol of `vips`, whether BIRD should take it as disabled: every protocol but those BIRD
 * confirmed enabled and healthd has not since asked to disable. A withdrawal counts from the moment
 * it is sent, an announcement only once confirmed, so a `configure` in between never announces
 * what healthd is withdrawing. Protocols of removed VIPs are left out: the file names exactly the
 * protocols of the configuration healthd runs, which is the one just installed once it reloaded.
 */
export function vipStateOf(vips: readonly VipConfig[], state: HealthdState): Map<string, boolean> {
  const { confirmed, sent } = state.bird;
  const out = new Map<string, boolean>();
  for (const v of vips) {
    for (const p of v.protocols) out.set(p, !(confirmed.get(p) === true && sent.get(p) !== false));
  }
  return out;
}

/** Writes the file when what it would say changed; a failure is logged and retried at the next change. */
export class VipStateWriter {
  private last: string | undefined;

  constructor(private readonly onError: (file: string, error: string) => void) {}

  /** Writes `file` for `vips` in `state` (nothing when `file` is undefined or nothing changed). */
  write(file: string | undefined, vips: readonly VipConfig[], state: HealthdState): void {
    if (file === undefined) return;
    const protocols = vipStateOf(vips, state);
    const key = `${file}\n${[...protocols].map(([p, off]) => `${p}=${off ? 1 : 0}`).join(',')}`;
    if (key === this.last) return;
    try {
      writeVipState(file, protocols);
      this.last = key;
    } catch (err) {
      this.last = undefined;
      this.onError(file, err instanceof Error ? err.message : String(err));
    }
  }
}
