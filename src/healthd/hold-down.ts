/**
 * Flap damping for a VIP's route.
 *
 * Scheme: an exponential hold-down. After a withdraw caused by ill health (failed checks or a
 * dead process) the VIP may not be announced again for `holdDownMs`. When the route is withdrawn
 * again less than `holdDownMaxMs` after it was last announced, that is a flap: the next hold-down
 * doubles (holdDownMs, 2×, 4×, … capped at holdDownMaxMs). A route that stayed announced for
 * holdDownMaxMs is stable and the count starts over.
 *
 * Why not BGP's RFC 2439 penalty with half-life decay: it needs four tuning knobs (penalty,
 * suppress, reuse, half-life) that operators rarely get right, and its suppress decision is hard
 * to explain from a log. The doubling scheme has one knob beyond the fixed hold-down, a fixed
 * worst case (holdDownMaxMs), the same effect on a persistently flapping VIP (its route changes
 * at most about once per holdDownMaxMs), and each hold-down is logged with its length and count.
 * A single failure still costs only `holdDownMs`, as a plain hold-down would.
 *
 * Drain, undrain and removal are deliberate and never start a hold-down.
 */

import type { VipConfig } from './types.ts';

const MAX_DOUBLINGS = 30;

/** The cap of the hold-down, never below the base. */
export function maxHoldMs(config: VipConfig): number {
  const base = Math.max(0, config.holdDownMs);
  return Math.max(base, config.holdDownMaxMs ?? base * 8);
}

export interface HoldDown {
  readonly flaps: number;
  readonly holdMs: number;
}

/**
 * The hold-down to apply for a health withdraw at `now`. `flaps` counts the withdraws of the
 * current unstable streak before this one; the answer's `flaps` is the count to keep.
 */
export function holdDownFor(
  config: VipConfig,
  flaps: number,
  announcedAt: number | undefined,
  now: number,
): HoldDown {
  const cap = maxHoldMs(config);
  const stable = announcedAt === undefined || now - announcedAt >= cap;
  const streak = stable ? 0 : Math.min(flaps, MAX_DOUBLINGS);
  return { flaps: streak + 1, holdMs: Math.min(Math.max(0, config.holdDownMs) * 2 ** streak, cap) };
}
