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

import { spawn } from 'node:child_process';
import type { HookCommand, HooksConfig } from './config.ts';
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

interface Lane {
  /** State of the transition running now (or last run). */
  current: ServedState | undefined;
  running: boolean;
  next: { state: ServedState; prefixes: readonly string[] } | undefined;
}

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
    this.runCommand = options.run ?? spawnCommandOn(options.timers ?? systemTimers);
  }

  update(config: HooksConfig): void {
    this.config = config;
  }

  /** Asks for the hooks of `state`; returns at once. */
  run(vip: string, state: ServedState, prefixes: readonly string[] = []): void {
    if (this.commands(state).length === 0 && this.commands(other(state)).length === 0) return;
    let lane = this.lanes.get(vip);
    if (lane === undefined) {
      lane = { current: undefined, running: false, next: undefined };
      this.lanes.set(vip, lane);
    }
    if (lane.running) {
      // Only the latest wish matters; asking for what is running now needs nothing more.
      lane.next = state === lane.current ? undefined : { state, prefixes };
      return;
    }
    this.start(vip, lane, state, prefixes).catch(this.onError);
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

  private async start(
    vip: string,
    lane: Lane,
    state: ServedState,
    prefixes: readonly string[],
  ): Promise<void> {
    lane.running = true;
    lane.current = state;
    const env = { INTENTLB_VIP: vip, INTENTLB_STATE: state, INTENTLB_PREFIXES: prefixes.join(' ') };
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
      this.start(vip, lane, next.state, next.prefixes).catch(this.onError);
      return;
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

const OUTPUT_TAIL = 1024;

/**
 * spawn() without a shell; SIGKILL at the deadline; never rejects, never waits on a stray
 * grandchild. The deadline, the grace for the pipes and the duration are on `timers`.
 */
export const spawnCommandOn =
  (timers: Timers): RunCommand =>
  (argv, env, timeoutMs) =>
    new Promise((resolve) => {
      const began = timers.now();
      let out = '';
      let err = '';
      let timedOut = false;
      let settled = false;
      let grace: unknown;
      const [program, ...args] = argv;
      const child = spawn(program!, args, {
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      });
      const keep = (acc: string, chunk: Buffer): string => (acc + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
      child.stdout?.on('data', (c: Buffer) => {
        out = keep(out, c);
      });
      child.stderr?.on('data', (c: Buffer) => {
        err = keep(err, c);
      });
      const timer = timers.setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const settle = (o: Omit<HookOutcome, 'vip' | 'state' | 'command' | 'durationMs' | 'output'>): void => {
        if (settled) return;
        settled = true;
        timers.clearTimeout(timer);
        if (grace !== undefined) timers.clearTimeout(grace);
        // A background grandchild may hold the pipes open: stop reading them.
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({ ...o, durationMs: timers.now() - began, output: (err || out).trim() });
      };
      const finished = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (timedOut)
          settle({ result: 'timeout', exitCode: code, signal, error: `killed after ${timeoutMs} ms` });
        else settle({ result: code === 0 ? 'ok' : 'failed', exitCode: code, signal });
      };
      child.once('error', (e) =>
        settle({ result: 'failed', exitCode: null, signal: null, error: e.message }),
      );
      // 'close' comes once the output is read; 'exit' bounds the wait for it.
      child.once('close', finished);
      child.once('exit', (code, signal) => {
        grace = timers.setTimeout(() => finished(code, signal), 500);
      });
    });

/** {@link spawnCommandOn} Node's timers. */
export const spawnCommand: RunCommand = spawnCommandOn(systemTimers);
