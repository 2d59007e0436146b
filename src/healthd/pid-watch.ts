/**
 * Watches each VIP's HAProxy pid file so that a dead instance is withdrawn at once instead of
 * after `fall` failed checks. Every `intervalMs` (100 ms) the known pid is probed with
 * `kill(pid, 0)`, one cheap syscall; the pid file itself is re-read every `rereadMs` (and right
 * after a death) to learn of a new process. HAProxy's master keeps its pid across hitless reloads,
 * so only a real stop or crash shows up here.
 *
 * Caveat: a dead process that its parent has not reaped yet (a zombie) still answers kill(0).
 * systemd and the built-in supervisor reap at once, so in practice the delay is one wait() away.
 */

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pidAlive } from '../runtime/pid.ts';
import type { Timers } from './scheduler.ts';
import type { VipConfig } from './types.ts';

export type ProcessStatus = 'unknown' | 'running' | 'exited';

export interface PidObservation {
  /** The pid read from the file; undefined when the file is missing or holds no pid. */
  readonly pid: number | undefined;
  readonly alive: boolean;
}

export interface PidStep {
  readonly status: ProcessStatus;
  readonly pid: number | undefined;
  /** The event to report, if the status changed (or a new process replaced the old one). */
  readonly event?: 'process-start' | 'process-exit';
}

/**
 * The watcher's rule, pure: from what was known and what was just observed, the new status and
 * the event to report. A new pid that is alive is a (re)start even if the old one never looked dead.
 */
export function pidStep(
  prev: { status: ProcessStatus; pid: number | undefined },
  obs: PidObservation,
): PidStep {
  if (obs.pid !== undefined && obs.alive) {
    const restarted = prev.status !== 'running' || prev.pid !== obs.pid;
    return restarted
      ? { status: 'running', pid: obs.pid, event: 'process-start' }
      : { status: 'running', pid: obs.pid };
  }
  return prev.status === 'exited'
    ? { status: 'exited', pid: obs.pid }
    : { status: 'exited', pid: obs.pid, event: 'process-exit' };
}

export { pidAlive };

/** The pid in a pid file (HAProxy writes one per line; the first is the master). */
export async function readPidFile(path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  return parsePid(text);
}

/**
 * {@link readPidFile}, synchronously: what the watcher uses. A pid file is a few bytes in tmpfs;
 * one blocking read costs microseconds, where the promise API's open/fstat/read/close round trips
 * through the thread pool cost ~3 % of a core at 750 files a second.
 */
export function readPidFileSync(path: string): number | undefined {
  try {
    return parsePid(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function parsePid(text: string): number | undefined {
  const first = text.trim().split(/\s+/)[0] ?? '';
  if (!/^\d+$/.test(first)) return undefined;
  const pid = Number(first);
  return pid > 1 && pid <= 4_194_304 ? pid : undefined;
}

export interface PidWatcherOptions {
  readonly timers: Timers;
  readonly onEvent: (vip: string, event: 'process-start' | 'process-exit', pid: number | undefined) => void;
  readonly intervalMs?: number;
  readonly rereadMs?: number;
  readonly readPid?: (path: string) => number | undefined | Promise<number | undefined>;
  readonly alive?: (pid: number) => boolean;
}

/** What one tick already read (per pid file; null: no pid) and probed (per pid). */
interface Tick {
  files: Map<string, number | null | Promise<number | undefined>>;
  pids: Map<number, boolean>;
}

interface Watch {
  pidfile: string;
  status: ProcessStatus;
  pid: number | undefined;
  lastRead: number;
  reading: boolean;
  removed: boolean;
}

export class PidWatcher {
  private readonly watches = new Map<string, Watch>();
  private readonly timers: Timers;
  private readonly onEvent: PidWatcherOptions['onEvent'];
  private readonly intervalMs: number;
  private readonly rereadMs: number;
  private readonly readPid: (path: string) => number | undefined | Promise<number | undefined>;
  private readonly alive: (pid: number) => boolean;
  private timer: unknown;
  private stopped = false;

  constructor(options: PidWatcherOptions) {
    this.timers = options.timers;
    this.onEvent = options.onEvent;
    this.intervalMs = options.intervalMs ?? 100;
    this.rereadMs = options.rereadMs ?? 1000;
    this.readPid = options.readPid ?? readPidFileSync;
    this.alive = options.alive ?? pidAlive;
  }

  /** The VIPs to watch (those with a pid file); a changed pid file path starts over. */
  update(vips: readonly VipConfig[]): void {
    const wanted = new Map<string, string>();
    for (const v of vips) if (v.pidfile !== undefined) wanted.set(v.name, v.pidfile);
    for (const [name, w] of this.watches) {
      if (wanted.get(name) !== w.pidfile) {
        w.removed = true;
        this.watches.delete(name);
      }
    }
    for (const [name, pidfile] of wanted) {
      if (this.watches.has(name)) continue;
      const w: Watch = {
        pidfile,
        status: 'unknown',
        pid: undefined,
        lastRead: 0,
        reading: false,
        removed: false,
      };
      this.watches.set(name, w);
      this.reread(name, w);
    }
    if (this.timer === undefined && !this.stopped && this.watches.size > 0) this.arm();
  }

  /** What is known of a VIP's process. */
  status(vip: string): { status: ProcessStatus; pid: number | undefined } | undefined {
    const w = this.watches.get(vip);
    return w === undefined ? undefined : { status: w.status, pid: w.pid };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.watches.values()) w.removed = true;
    this.watches.clear();
  }

  private arm(): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.poll();
      if (!this.stopped && this.watches.size > 0) this.arm();
    }, this.intervalMs);
  }

  /**
   * One tick. VIPs of one HAProxy instance share its pid file and pid (`instances: single` or
   * `per-group`): each file is read, and each pid probed, once per tick.
   */
  private poll(): void {
    const now = this.timers.now();
    const tick: Tick = { files: new Map(), pids: new Map() };
    for (const [name, w] of this.watches) {
      if (w.reading) continue;
      if (w.status === 'running' && w.pid !== undefined && !this.probe(tick, w.pid)) {
        this.apply(name, w, { pid: w.pid, alive: false });
        this.reread(name, w, tick);
      } else if (now - w.lastRead >= this.rereadMs) {
        this.reread(name, w, tick);
      }
    }
  }

  private probe(tick: Tick, pid: number): boolean {
    let alive = tick.pids.get(pid);
    if (alive === undefined) {
      alive = this.alive(pid);
      tick.pids.set(pid, alive);
    }
    return alive;
  }

  private reread(name: string, w: Watch, tick: Tick = { files: new Map(), pids: new Map() }): void {
    w.lastRead = this.timers.now();
    let read = tick.files.get(w.pidfile);
    if (read === undefined) {
      try {
        read = this.readPid(w.pidfile);
      } catch {
        read = undefined;
      }
      tick.files.set(w.pidfile, read ?? null);
    }
    const seen = (pid: number | undefined): void => {
      if (w.removed || this.stopped) return;
      this.apply(name, w, { pid, alive: pid !== undefined && this.probe(tick, pid) });
    };
    if (!(read instanceof Promise)) {
      seen(read ?? undefined);
      return;
    }
    w.reading = true;
    read
      .catch(() => undefined)
      .then((pid) => {
        w.reading = false;
        seen(pid);
      });
  }

  private apply(name: string, w: Watch, obs: PidObservation): void {
    const step = pidStep(w, obs);
    w.status = step.status;
    w.pid = step.pid;
    if (step.event !== undefined) this.onEvent(name, step.event, step.pid);
  }
}
