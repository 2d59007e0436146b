/**
 * Data of the health checker's decision core: what it is configured with, what happens to it,
 * what it remembers and what it asks the outside world to do. No behaviour lives here.
 */

/** HTTP GET of HAProxy's monitor URI on the VIP; healthy when the status is 2xx. */
export interface HttpCheckSpec {
  readonly kind: 'http';
  /** IPv4 or IPv6 literal (brackets allowed), usually the VIP itself. */
  readonly address: string;
  readonly port: number;
  /** The monitor URI, e.g. `/.intentlb/health`. */
  readonly path: string;
  /** Host header; defaults to the address (and port). */
  readonly host?: string;
  /**
   * Checks reuse one keep-alive connection until it is this old (ms), then open a fresh one;
   * absent or 0: a new connection for every check (kept-http.ts).
   */
  readonly reuseMs?: number;
}

/** A TCP connect to the VIP; healthy when the handshake completes. */
export interface TcpCheckSpec {
  readonly kind: 'tcp';
  readonly address: string;
  readonly port: number;
}

export type CheckSpec = HttpCheckSpec | TcpCheckSpec;

/**
 * An hfm-style test: a platform-owned program run with an argv (no shell) under the VIP's timeout.
 * Exit 0 is up, 1 and 2 are down, anything else (3 = UNKNOWN in the Nagios convention, a signal,
 * a timeout) is unknown: it neither brings the VIP up nor takes it down.
 */
export interface ExecCheckSpec {
  /** The command's name in site.yaml `checks.commands`, for logs and /status. */
  readonly name: string;
  readonly argv: readonly [string, ...string[]];
}

/** What the checker watches for one VIP (one HAProxy instance). */
export interface VipConfig {
  /** The instance name; it names the VIP in events, actions and logs. */
  readonly name: string;
  /** Routes this VIP announces, e.g. `198.18.100.10/32`, `2001:db8:100::10/128`. */
  readonly prefixes: readonly string[];
  /**
   * BIRD static protocols that carry the prefixes; enabled = announced. A protocol belongs to
   * one VIP (the renderer names them after the VIP).
   */
  readonly protocols: readonly string[];
  readonly check: CheckSpec;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive successes that bring the VIP up. */
  readonly rise: number;
  /** Consecutive failures that bring it down. */
  readonly fall: number;
  /** Hold-down after a withdraw caused by ill health; doubles on repeated flaps (see hold-down.ts). */
  readonly holdDownMs: number;
  /** Cap of the growing hold-down, and the time announced that counts as stable. Default 8 × holdDownMs. */
  readonly holdDownMaxMs?: number;
  /** The instance's pidfile, watched for `process-exit` / `process-start`. */
  readonly pidfile?: string;
  /** Exec checks that must pass beside `check` (all run together, each under `timeoutMs`). */
  readonly exec?: readonly ExecCheckSpec[];
}

/** Health as judged from the checks alone. */
export type Health = 'unknown' | 'up' | 'down';

/** What the hooks were last told: the VIP's served (announced) state. */
export type ServedState = 'up' | 'down';

/** The last check result of a VIP, as /status shows it; kept by the loop around the core, not in its state. */
export interface LastCheck {
  readonly at: number;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error?: string;
}

/** A VIP on its way out: withdrawn, waiting for BIRD's confirmation and for the network to converge. */
export interface Removal {
  readonly since: number;
  /** Whether BIRD may still have announced it at removal time, so convergence must be waited for. */
  readonly converge: boolean;
  /** Set once BIRD confirmed every protocol disabled: `forget` is due from then on. */
  readonly readyAt?: number;
}

export interface VipState {
  readonly config: VipConfig;
  readonly health: Health;
  /** Consecutive successful checks (0 after any failure), counted up to `rise`. */
  readonly okStreak: number;
  /** Consecutive failed checks (0 after any success), counted up to `fall`. */
  readonly failStreak: number;
  /** Desired announcement: what this daemon wants BIRD to have. */
  readonly announced: boolean;
  /** When `health` took its current value. */
  readonly since: number;
  /** When `announced` last changed (or the VIP was added). */
  readonly lastChange: number;
  /** When the VIP was last announced; used to tell a flap from a stable period. */
  readonly announcedAt?: number;
  /** No announce before this time (hold-down). */
  readonly holdUntil: number;
  /** Withdraws in quick succession so far; the hold-down doubles with each. */
  readonly flaps: number;
  /** Drained on its own (`drain` with a vip), independent of the node-wide drain. */
  readonly draining: boolean;
  /** Time of the last process event; results of checks started before it are stale. */
  readonly epoch: number;
  readonly process: 'unknown' | 'running' | 'exited';
  readonly reported?: ServedState;
  readonly removal?: Removal;
  /**
   * Script failover: the preferred peers (earlier in site.yaml) that serve this VIP now. While one
   * does, this node stands by: healthy, checked, not promoted.
   */
  readonly yielding?: readonly string[];
}

/** What the daemon knows of BIRD. */
export interface BirdState {
  /** Connected to BIRD's control socket; no bird actions are emitted while it is not. */
  readonly up: boolean;
  /** Last value requested per protocol; a missing entry means unknown (a failed request). */
  readonly sent: ReadonlyMap<string, boolean>;
  /** Last value BIRD confirmed per protocol. */
  readonly confirmed: ReadonlyMap<string, boolean>;
  /** Protocols no VIP owns any more (renamed); kept disabled until BIRD confirms. */
  readonly orphans: ReadonlySet<string>;
  /** After a failed request: when to send the difference again. */
  readonly retryAt?: number;
}

export interface CoreOptions {
  /** After BIRD confirms a removed VIP's withdraw, wait this long for the network before `forget`. */
  readonly convergenceMs: number;
  /** Delay before re-sending changes BIRD refused. */
  readonly birdRetryMs: number;
}

export interface HealthdState {
  readonly vips: ReadonlyMap<string, VipState>;
  /** Node-wide drain (maintenance): nothing is announced while set. */
  readonly draining: boolean;
  readonly bird: BirdState;
  readonly options: CoreOptions;
}

export interface BirdChange {
  readonly protocol: string;
  readonly enabled: boolean;
}

export type HealthdEvent =
  | {
      readonly type: 'check-result';
      readonly vip: string;
      readonly ok: boolean;
      readonly latencyMs: number;
      readonly error?: string;
      /** When the check began; a result older than the last process event is dropped. */
      readonly startedAt?: number;
      /**
       * Neither up nor down (an exec check's UNKNOWN): ends a success streak and counts no failure
       * (the failures on both sides of it still add up: an unknown never saves a failing VIP).
       */
      readonly unknown?: boolean;
    }
  /** Script failover: the VIPs a preferred peer serves now (none when it does not answer). */
  | { readonly type: 'peer'; readonly peer: string; readonly serving: readonly string[] }
  /** The instance's HAProxy died: down and withdrawn at once, without waiting for checks. */
  | { readonly type: 'process-exit'; readonly vip: string }
  | { readonly type: 'process-start'; readonly vip: string }
  /**
   * BIRD (re)connected or restarted, or its protocols drifted (`configure` resets them): its state
   * is unknown, send the whole desired set.
   */
  | { readonly type: 'bird-up'; readonly reason?: 'connect' | 'drift' | 'request' }
  | { readonly type: 'bird-down' }
  /** The outcome of a `bird` action, with the changes it carried. */
  | {
      readonly type: 'bird-result';
      readonly ok: boolean;
      readonly changes: readonly BirdChange[];
      readonly error?: string;
    }
  /** Withdraw every VIP of the node (or one VIP), keep checking. */
  | { readonly type: 'drain'; readonly vip?: string }
  | { readonly type: 'undrain'; readonly vip?: string }
  /** Time passed: hold-downs expire, removals converge, refused changes are retried. */
  | { readonly type: 'tick' }
  /** The new VIP set of the node. */
  | { readonly type: 'config'; readonly vips: readonly VipConfig[] };

export type HealthdEventType = HealthdEvent['type'];

export type LogLevel = 'info' | 'warn' | 'error';

export interface BirdAction {
  readonly type: 'bird';
  /** Sorted by protocol; one action per decide() call. */
  readonly changes: readonly BirdChange[];
  /** A full reconcile (every managed protocol), not just a difference. */
  readonly reconcile: boolean;
}

/** Run the `on_up` / `on_down` hook for a VIP; the loop runs it with a timeout, never awaited by checks. */
export interface HookAction {
  readonly type: 'hook';
  readonly vip: string;
  readonly state: ServedState;
  /** The served state the hooks were told before (`unknown`: never told). */
  readonly from?: ServedState | 'unknown';
  readonly reason?: string;
}

export interface LogAction {
  readonly type: 'log';
  readonly level: LogLevel;
  readonly msg: string;
  readonly vip?: string;
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}

/** The VIP is withdrawn, confirmed and converged: its instance may be stopped and its state dropped. */
export interface ForgetAction {
  readonly type: 'forget';
  readonly vip: string;
}

export type HealthdAction = BirdAction | HookAction | LogAction | ForgetAction;

export interface Decision {
  readonly state: HealthdState;
  /** In execution order: logs, then the single bird action, then hooks, then forgets. */
  readonly actions: readonly HealthdAction[];
}
