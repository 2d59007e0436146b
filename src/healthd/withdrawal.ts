/**
 * "Withdrawn, and the network had time to notice": what `hold`, `drain` and shutdown wait for
 * before they answer. The predicates are pure functions of the core's state; `WithdrawWaiters`
 * holds the pending answers and is re-checked by the loop after every decision.
 *
 * A VIP counts as withdrawn when it is not desired announced and, where BIRD is driven, BIRD
 * confirmed every one of its protocols disabled (reply codes and read-back, see bird-link.ts).
 * After that, `converge_ms` is waited only if BIRD may have carried the route when the request
 * came; a VIP that was never announced is reported at once.
 */

import type { Timers } from './timers.ts';
import type { HealthdState } from './types.ts';

/** The VIP is not desired and BIRD confirmed its protocols disabled. A VIP no longer known counts as withdrawn. */
export function withdrawnConfirmed(state: HealthdState, vip: string, bird: boolean): boolean {
  const v = state.vips.get(vip);
  if (v === undefined) return true;
  if (v.announced) return false;
  if (!bird) return true;
  return v.config.protocols.every(
    (p) => state.bird.sent.get(p) === false && state.bird.confirmed.get(p) === false,
  );
}

/** BIRD may be carrying the VIP's route now (so a withdraw must wait for the network to converge). */
export function mayBeAnnounced(state: HealthdState, vip: string, bird: boolean): boolean {
  const v = state.vips.get(vip);
  if (v === undefined) return false;
  if (v.announced) return true;
  return bird && v.config.protocols.some((p) => state.bird.confirmed.get(p) !== false);
}

/** BIRD is connected and confirmed the last request of every protocol the core manages. */
export function birdSettled(state: HealthdState): boolean {
  if (!state.bird.up) return false;
  for (const v of state.vips.values()) {
    for (const p of v.config.protocols) {
      const sent = state.bird.sent.get(p);
      if (sent === undefined || state.bird.confirmed.get(p) !== sent) return false;
    }
  }
  for (const p of state.bird.orphans)
    if (state.bird.confirmed.get(p) !== state.bird.sent.get(p)) return false;
  return true;
}

export type WithdrawOutcome =
  | {
      readonly ok: true;
      readonly vips: readonly string[];
      readonly waitedMs: number;
      readonly converged: boolean;
    }
  | { readonly ok: false; readonly code: 'E_TIMEOUT' | 'E_CANCELLED'; readonly error: string };

interface Waiter {
  readonly vips: readonly string[];
  /** Still wanted: the hold or drain was not released meanwhile. */
  readonly wanted: (state: HealthdState) => boolean;
  readonly converge: boolean;
  readonly started: number;
  readonly resolve: (o: WithdrawOutcome) => void;
  deadline: unknown;
  convergeTimer: unknown;
}

export interface WithdrawWaitersOptions {
  readonly timers: Timers;
  /** BIRD is driven (anycast); otherwise withdrawn means "not desired". */
  readonly bird: () => boolean;
  readonly convergeMs: () => number;
}

export class WithdrawWaiters {
  private readonly waiters = new Set<Waiter>();
  private readonly opts: WithdrawWaitersOptions;

  constructor(opts: WithdrawWaitersOptions) {
    this.opts = opts;
  }

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Resolves once every VIP of `vips` is withdrawn and converged, or with an error when `wanted`
   * stops holding (released) or `timeoutMs` passes. `before` is the state when the request came,
   * before it was applied: it decides whether convergence must be waited for.
   */
  wait(
    before: HealthdState,
    vips: readonly string[],
    wanted: (state: HealthdState) => boolean,
    timeoutMs: number,
  ): Promise<WithdrawOutcome> {
    const bird = this.opts.bird();
    const converge = vips.some((v) => mayBeAnnounced(before, v, bird));
    return new Promise((resolve) => {
      const w: Waiter = {
        vips,
        wanted,
        converge,
        started: this.opts.timers.now(),
        resolve,
        deadline: undefined,
        convergeTimer: undefined,
      };
      w.deadline = this.opts.timers.setTimeout(() => {
        this.finish(w, {
          ok: false,
          code: 'E_TIMEOUT',
          error: `not confirmed withdrawn within ${timeoutMs} ms${bird ? ' (is BIRD reachable?)' : ''}`,
        });
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Re-check every waiter against the new state. */
  check(state: HealthdState): void {
    const bird = this.opts.bird();
    for (const w of [...this.waiters]) {
      if (!w.wanted(state)) {
        this.finish(w, { ok: false, code: 'E_CANCELLED', error: 'released before the withdraw completed' });
        continue;
      }
      if (w.convergeTimer !== undefined) continue;
      if (!w.vips.every((v) => withdrawnConfirmed(state, v, bird))) continue;
      const done = () => {
        this.finish(w, {
          ok: true,
          vips: w.vips,
          waitedMs: Math.round(this.opts.timers.now() - w.started),
          converged: w.converge,
        });
      };
      const ms = w.converge ? this.opts.convergeMs() : 0;
      if (ms <= 0) done();
      else w.convergeTimer = this.opts.timers.setTimeout(done, ms);
    }
  }

  /** Answers every waiter with an error (shutdown). */
  cancelAll(error: string): void {
    for (const w of [...this.waiters]) this.finish(w, { ok: false, code: 'E_CANCELLED', error });
  }

  private finish(w: Waiter, outcome: WithdrawOutcome): void {
    if (!this.waiters.delete(w)) return;
    this.opts.timers.clearTimeout(w.deadline);
    if (w.convergeTimer !== undefined) this.opts.timers.clearTimeout(w.convergeTimer);
    w.resolve(outcome);
  }
}
