/**
 * Runs the `on_up` / `on_down` hooks (hfm-style: move an elastic IP, a pf table entry...) when a
 * VIP's served state changes. Each command is spawned without a shell, with the VIP name and the
 * new state appended to its arguments (and in INTENTLB_VIP / INTENTLB_STATE / INTENTLB_PREFIXES),
 * killed when it outlives `timeout_ms`, and its outcome logged. Nothing here is awaited by the
 * checks or the decision loop.
 *
 * Per VIP the hooks run one transition at a time, in order, so an `up` hook can never finish after
 * the `down` hook that followed it. While one runs, only the latest requested state waits: a
 * quick down-up-down collapses into the one transition still needed, keeping the queue bounded.
 */

import type { HookCommand, HooksConfig } from './config.ts';
import { runProcess } from './run-process.ts';
import { systemTimers, type Timers } from './timers.ts';
import type { ServedState } from './types.ts';

export type HookResult = 'ok' | 'failed' | 'timeout';

export interface HookOutcome {
  readonly vip: string;
  readonly state: ServedState;
  readonly command: readonly string[];
  readonly result: HookResult;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** The end of what the command wrote (stderr, else stdout), at most 1 KiB. */
  readonly output: string;
  readonly error?: string;
}

/** Runs one command to completion; injectable so the queueing is tested without processes. */
export type RunCommand = (
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
) => Promise<Omit<HookOutcome, 'vip' | 'state' | 'command'>>;

/** Why a transition happens, for the commands' environment. */
export interface HookContext {
  /** The served state before it (`unknown` when the hooks were never told one). */
  readonly from?: ServedState | 'unknown';
  /** The core's reason: `rise`, `fall: …`, `process-exit`, `drain`, `peer lb1 serves it`… */
  readonly reason?: string;
}

interface Request {
  state: ServedState;
  prefixes: readonly string[];
  context: HookContext;
}

interface Lane {
  /** State of the transition running now (or last run). */
  current: ServedState | undefined;
  running: boolean;
  next: Request | undefined;
  /** A failed transition waits to run again (`retryMs`). */
  retry: unknown;
}

/** From SIGTERM to SIGKILL when a command outlives its deadline. */
export const DEFAULT_KILL_GRACE_MS = 2000;

export interface HookRunnerOptions {
  readonly config: HooksConfig;
  readonly onOutcome: (outcome: HookOutcome) => void;
  /** `onOutcome` threw (a bug); the hooks go on. Default: thrown again, unhandled. */
  readonly onError?: (err: unknown) => void;
  /** Default: {@link spawnCommandOn} these timers. */
  readonly run?: RunCommand;
  /** The clock of the default `run`'s deadline and duration (default: Node's). */
  readonly timers?: Timers;
}

export class HookRunner {
  private config: HooksConfig;
  private readonly onOutcome: HookRunnerOptions['onOutcome'];
  private readonly onError: (err: unknown) => void;
  private readonly runCommand: RunCommand;
  private readonly timers: Timers;
  private readonly lanes = new Map<string, Lane>();
  private idleWaiters: (() => void)[] = [];

  constructor(options: HookRunnerOptions) {
    this.config = options.config;
    this.onOutcome = options.onOutcome;
    this.onError =
      options.onError ??
      ((err) => {
        throw err;
      });
    this.timers = options.timers ?? systemTimers;
    this.runCommand =
      options.run ?? spawnCommandOn(this.timers, () => this.config.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  }

  update(config: HooksConfig): void {
    this.config = config;
  }

  /** Asks for the hooks of `state`; returns at once. */
  run(vip: string, state: ServedState, prefixes: readonly string[] = [], context: HookContext = {}): void {
    if (this.commands(state).length === 0 && this.commands(other(state)).length === 0) return;
    let lane = this.lanes.get(vip);
    if (lane === undefined) {
      lane = { current: undefined, running: false, next: undefined, retry: undefined };
      this.lanes.set(vip, lane);
    }
    this.cancelRetry(lane);
    if (lane.running) {
      // Only the latest wish matters; asking for what is running now needs nothing more.
      lane.next = state === lane.current ? undefined : { state, prefixes, context };
      return;
    }
    this.start(vip, lane, { state, prefixes, context }).catch(this.onError);
  }

  /** Drops the lanes' waiting retries (shutdown: the demote of the drain supersedes them anyway). */
  cancelRetries(): void {
    for (const lane of this.lanes.values()) this.cancelRetry(lane);
  }

  private cancelRetry(lane: Lane): void {
    if (lane.retry === undefined) return;
    this.timers.clearTimeout(lane.retry);
    lane.retry = undefined;
  }

  /** Transitions running or waiting. */
  get busy(): number {
    let n = 0;
    for (const lane of this.lanes.values()) if (lane.running) n++;
    return n;
  }

  /** Resolves when no hook runs or waits (used on shutdown, under the caller's own deadline). */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private commands(state: ServedState): readonly HookCommand[] {
    return state === 'up' ? this.config.onUp : this.config.onDown;
  }

  private async start(vip: string, lane: Lane, request: Request): Promise<void> {
    const { state, prefixes, context } = request;
    lane.running = true;
    lane.current = state;
    const env = {
      ...this.config.env,
      INTENTLB_VIP: vip,
      INTENTLB_STATE: state,
      INTENTLB_PREFIXES: prefixes.join(' '),
      INTENTLB_ADDRESSES: prefixes.map((p) => p.replace(/\/\d+$/, '')).join(' '),
      INTENTLB_OLD_STATE: context.from ?? 'unknown',
      INTENTLB_NEW_STATE: state,
      INTENTLB_REASON: context.reason ?? '',
    };
    let failed = false;
    for (const command of this.commands(state)) {
      const argv = [...command, vip, state];
      let outcome: Omit<HookOutcome, 'vip' | 'state' | 'command'>;
      try {
        outcome = await this.runCommand(argv, env, this.config.timeoutMs);
      } catch (err) {
        outcome = {
          result: 'failed',
          exitCode: null,
          signal: null,
          durationMs: 0,
          output: '',
          error: err instanceof Error ? err.message : String(err),
        };
      }
      if (outcome.result !== 'ok') failed = true;
      try {
        this.onOutcome({ vip, state, command: argv, ...outcome });
      } catch (err) {
        // The lane must go on: a transition stuck `running` would never run its VIP's hooks again.
        this.onError(err);
      }
    }
    lane.running = false;
    const next = lane.next;
    lane.next = undefined;
    if (next !== undefined && next.state !== state) {
      this.start(vip, lane, next).catch(this.onError);
      return;
    }
    const retryMs = this.config.retryMs ?? 0;
    if (failed && retryMs > 0) {
      // A failover script that failed (an API hiccup, a missing tool) is run again until it works
      // or another transition replaces it: the VIP must not stay half-moved.
      lane.retry = this.timers.setTimeout(() => {
        lane.retry = undefined;
        if (!lane.running) this.start(vip, lane, request).catch(this.onError);
      }, retryMs);
    }
    if (this.busy === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/** What the daemon logs of a hook run (snake_case like every log line). */
export function hookLogFields(o: HookOutcome): Record<string, string | number | null> {
  return {
    vip: o.vip,
    state: o.state,
    command: o.command.join(' '),
    result: o.result,
    exit_code: o.exitCode,
    signal: o.signal,
    duration_ms: Math.round(o.durationMs),
    ...(o.output === '' ? {} : { output: o.output }),
    ...(o.error === undefined ? {} : { error: o.error }),
  };
}

function other(state: ServedState): ServedState {
  return state === 'up' ? 'down' : 'up';
}

/**
 * {@link runProcess} on these timers: no shell, its own process group, SIGTERM at the deadline and
 * SIGKILL `killGraceMs` later. Never rejects.
 */
export const spawnCommandOn =
  (timers: Timers, killGraceMs: number | (() => number) = DEFAULT_KILL_GRACE_MS): RunCommand =>
  async (argv, env, timeoutMs) => {
    const grace = typeof killGraceMs === 'number' ? killGraceMs : killGraceMs();
    const r = await runProcess({ argv, env, timeoutMs, killGraceMs: grace, timers });
    const result: HookResult = r.timedOut
      ? 'timeout'
      : r.exitCode === 0 && r.error === undefined
        ? 'ok'
        : 'failed';
    return {
      result,
      exitCode: r.exitCode,
      signal: r.signal,
      durationMs: r.durationMs,
      output: r.output,
      ...(r.error === undefined ? {} : { error: r.error }),
    };
  };

/** {@link spawnCommandOn} Node's timers. */
export const spawnCommand: RunCommand = spawnCommandOn(systemTimers);
