/**
 * The daemon's `/status` (and control `status`) document: a pure function of the core's state and
 * a few facts the loop knows (BIRD connection, processes). snake_case JSON, times in ISO 8601.
 */

import type { HealthdState, LastCheck, VipState } from './types.ts';

/** What BIRD has for a VIP, as far as it confirmed. */
export type BirdVipState = 'announced' | 'withdrawn' | 'pending' | 'unknown' | 'unmanaged';

export interface VipStatus {
  readonly name: string;
  readonly prefixes: readonly string[];
  readonly protocols: readonly string[];
  /** From the checks: unknown, up, down. */
  readonly health: VipState['health'];
  /** What healthd wants BIRD to have. */
  readonly announced: boolean;
  /** What BIRD confirmed. */
  readonly bird: BirdVipState;
  /** Held by `hold <vip>` (deploy) until `release`. */
  readonly held: boolean;
  /** The whole node is drained. */
  readonly drained: boolean;
  /** Being removed (no longer in the configuration): withdrawn, then forgotten. */
  readonly removing: boolean;
  readonly hold_down_until?: string;
  readonly flaps: number;
  readonly process: VipState['process'];
  readonly pid?: number;
  readonly ok_streak: number;
  readonly fail_streak: number;
  readonly since: string;
  readonly last_change: string;
  readonly last_check?: {
    readonly at: string;
    readonly ok: boolean;
    readonly latency_ms: number;
    readonly error?: string;
  };
}

export interface HealthdStatus {
  readonly node: string;
  readonly mode: string;
  readonly pid: number;
  readonly started_at: string;
  readonly draining: boolean;
  readonly bird: {
    readonly managed: boolean;
    readonly socket: string;
    readonly connected: boolean;
    readonly reconciles: number;
    readonly last_reconcile?: string;
  };
  readonly vips: readonly VipStatus[];
}

export interface StatusFacts {
  readonly node: string;
  readonly mode: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly birdManaged: boolean;
  readonly birdSocket: string;
  readonly reconciles: number;
  readonly lastReconcile?: number;
  /** Monotonic clock reading → ISO wall-clock time. */
  readonly wall: (t: number) => string;
  readonly now: number;
  readonly pidOf: (vip: string) => number | undefined;
  readonly lastCheck: (vip: string) => LastCheck | undefined;
}

export function birdVipState(state: HealthdState, v: VipState, managed: boolean): BirdVipState {
  if (!managed) return 'unmanaged';
  if (!state.bird.up) return 'unknown';
  const confirmed = v.config.protocols.map((p) => state.bird.confirmed.get(p));
  const sent = v.config.protocols.map((p) => state.bird.sent.get(p));
  if (confirmed.some((c, i) => c !== sent[i])) return 'pending';
  if (confirmed.every((c) => c === true)) return 'announced';
  if (confirmed.every((c) => c === false)) return 'withdrawn';
  return 'unknown';
}

export function buildStatus(state: HealthdState, facts: StatusFacts): HealthdStatus {
  const vips = [...state.vips.values()]
    .sort((a, b) => (a.config.name < b.config.name ? -1 : a.config.name > b.config.name ? 1 : 0))
    .map((v): VipStatus => {
      const pid = facts.pidOf(v.config.name);
      const last = facts.lastCheck(v.config.name);
      const holdDown = !v.announced && v.holdUntil > facts.now ? facts.wall(v.holdUntil) : undefined;
      return {
        name: v.config.name,
        prefixes: v.config.prefixes,
        protocols: v.config.protocols,
        health: v.health,
        announced: v.announced,
        bird: birdVipState(state, v, facts.birdManaged),
        held: v.draining,
        drained: state.draining,
        removing: v.removal !== undefined,
        ...(holdDown === undefined ? {} : { hold_down_until: holdDown }),
        flaps: v.flaps,
        process: v.process,
        ...(pid === undefined ? {} : { pid }),
        ok_streak: v.okStreak,
        fail_streak: v.failStreak,
        since: facts.wall(v.since),
        last_change: facts.wall(v.lastChange),
        ...(last === undefined
          ? {}
          : {
              last_check: {
                at: facts.wall(last.at),
                ok: last.ok,
                latency_ms: Math.round(last.latencyMs * 1000) / 1000,
                ...(last.error === undefined ? {} : { error: last.error }),
              },
            }),
      };
    });
  return {
    node: facts.node,
    mode: facts.mode,
    pid: facts.pid,
    started_at: facts.wall(facts.startedAt),
    draining: state.draining,
    bird: {
      managed: facts.birdManaged,
      socket: facts.birdSocket,
      connected: state.bird.up,
      reconciles: facts.reconciles,
      ...(facts.lastReconcile === undefined ? {} : { last_reconcile: facts.wall(facts.lastReconcile) }),
    },
    vips,
  };
}
