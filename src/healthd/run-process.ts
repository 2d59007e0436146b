/**
 * Runs one program to completion for healthd (hooks, failover scripts, exec checks): spawn() with
 * an argv and no shell, in its own process group, so a deadline stops the whole tree the script
 * started (an `arping`, an `aws` call): SIGTERM to the group at the deadline, SIGKILL `killGraceMs`
 * later. Never rejects, never waits on a stray grandchild that holds the pipes open.
 */

import { spawn } from 'node:child_process';
import type { Timers } from './timers.ts';

export interface ProcessOutcome {
  /** The exit code; null when a signal ended it or it never started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Outlived its deadline (and was stopped). */
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** The end of what it wrote (stderr, else stdout), at most 1 KiB. */
  readonly output: string;
  /** It could not be started, or was stopped: why. */
  readonly error?: string;
}

export interface RunProcessOptions {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** From SIGTERM to SIGKILL after the deadline. */
  readonly killGraceMs: number;
  readonly timers: Timers;
}

const OUTPUT_TAIL = 1024;
/** After `exit`, how long `close` (the pipes drained) may take. */
const PIPE_GRACE_MS = 500;

export function runProcess(o: RunProcessOptions): Promise<ProcessOutcome> {
  const { timers } = o;
  return new Promise((resolve) => {
    const began = timers.now();
    let out = '';
    let err = '';
    let timedOut = false;
    let settled = false;
    let grace: unknown;
    let kill: unknown;
    const [program, ...args] = o.argv;
    const child = spawn(program!, args, {
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // The group is gone already: nothing left to stop.
      }
    };
    const keep = (acc: string, chunk: Buffer): string => (acc + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    child.stdout?.on('data', (c: Buffer) => {
      out = keep(out, c);
    });
    child.stderr?.on('data', (c: Buffer) => {
      err = keep(err, c);
    });
    const deadline = timers.setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      kill = timers.setTimeout(() => signalGroup('SIGKILL'), o.killGraceMs);
    }, o.timeoutMs);
    const settle = (exitCode: number | null, signal: string | null, error?: string): void => {
      if (settled) return;
      settled = true;
      timers.clearTimeout(deadline);
      if (grace !== undefined) timers.clearTimeout(grace);
      // A process stopped at the deadline may leave children behind in its group: end them too.
      if (timedOut) {
        if (kill !== undefined) timers.clearTimeout(kill);
        signalGroup('SIGKILL');
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      const why = error ?? (timedOut ? `stopped after ${o.timeoutMs} ms` : undefined);
      resolve({
        exitCode,
        signal,
        timedOut,
        durationMs: timers.now() - began,
        output: (err || out).trim(),
        ...(why === undefined ? {} : { error: why }),
      });
    };
    child.once('error', (e) => settle(null, null, e.message));
    child.once('close', (code, signal) => settle(code, signal));
    child.once('exit', (code, signal) => {
      grace = timers.setTimeout(() => settle(code, signal), PIPE_GRACE_MS);
    });
  });
}
