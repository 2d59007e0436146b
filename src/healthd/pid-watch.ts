/**
 * Watches each VIP's HAProxy pid file so that a dead instance is withdrawn at once instead of
 * after `fall` failed checks. Every `intervalMs` (100 ms) the known pid is probed with
 * `kill(pid, 0)`, one cheap syscall; the pid file itself is re-read right after a death, every
 * `rereadMs` while no process runs (to learn of a new one) and every `verifyMs` while one does.
 * HAProxy's master keeps its pid across hitless reloads, so only a real stop or crash shows up
 * here.
 *
 * Caveat: a dead process that its parent has not reaped yet (a zombie) still answers kill(0).
 * systemd and the built-in supervisor reap at once, so in practice the delay is one wait() away.
 */

import { readFileSync } from 'node:fs';
import { pidAlive } from '../runtime/pid.ts';
import type { Timers } from './timers.ts';
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

/** {@link readPidFileSync} behind a promise, for callers that await. */
export async function readPidFile(path: string): Promise<number | undefined> {
  return readPidFileSync(path);
}

/**
 * The pid in a pid file (HAProxy writes one per line; the first is the master); what the watcher
 * uses. A pid file is a few bytes in tmpfs: one blocking read costs microseconds, where the promise
 * API's open/fstat/read/close round trips through the thread pool cost ~3 % of a core at 750 files
 * a second.
 */
export function readPidFileSync(path: string): number | undefined {
  try {
    return parsePid(readFileSync(path, 'utf8'));
  } catch {
    // Missing, unreadable or being rewritten: no PID now. The checker must not stop over a pid file.
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
  /** How often a running process is probed with kill(pid, 0). Default 100 ms. */
  readonly intervalMs?: number;
  /** How often a pid file without a running process is re-read, to learn of a new one. Default 1 s. */
  readonly rereadMs?: number;
  /**
   * How often the pid file of a running process is re-read anyway. A restart shows as the old
   * pid dying (probed every `intervalMs`) and a hitless reload keeps the master's pid, so this is
   * only a safety net. Default 10 s.
   */
  readonly verifyMs?: number;
  readonly readPid?: (path: string) => number | undefined | Promise<number | undefined>;
  readonly alive?: (pid: number) => boolean;
  /**
   * A pid read that settled later failed to be taken in (a bug: `onEvent` or `alive` threw);
   * the file is read again within `rereadMs` and its event told again. Default: thrown again,
   * unhandled.
   */
  readonly onError?: (err: unknown) => void;
}

/** One pid file and the VIPs it stands for (several when one HAProxy instance serves several VIPs). */
interface FileWatch {
  readonly path: string;
  readonly vips: Set<string>;
  status: ProcessStatus;
  pid: number | undefined;
  lastRead: number;
  reading: boolean;
  removed: boolean;
}

/**
 * The cost is per pid file, not per VIP: a node with one HAProxy per VIP and 750 VIPs probes 750
 * pids ten times a second (~0.7 µs each) and reads ~75 pid files a second; VIPs sharing an
 * instance share its file, its read and its probe.
 */
export class PidWatcher {
  /** VIP → its pid file. */
  private readonly vips = new Map<string, string>();
  private readonly files = new Map<string, FileWatch>();
  private readonly timers: Timers;
  private readonly onEvent: PidWatcherOptions['onEvent'];
  private readonly intervalMs: number;
  private readonly rereadMs: number;
  private readonly verifyMs: number;
  private readonly readPid: (path: string) => number | undefined | Promise<number | undefined>;
  private readonly alive: (pid: number) => boolean;
  private readonly onError: (err: unknown) => void;
  private timer: unknown;
  private stopped = false;

  constructor(options: PidWatcherOptions) {
    this.timers = options.timers;
    this.onEvent = options.onEvent;
    this.intervalMs = options.intervalMs ?? 100;
    this.rereadMs = options.rereadMs ?? 1000;
    this.verifyMs = Math.max(options.verifyMs ?? 10_000, this.rereadMs);
    this.readPid = options.readPid ?? readPidFileSync;
    this.alive = options.alive ?? pidAlive;
    this.onError =
      options.onError ??
      ((err) => {
        throw err;
      });
  }

  /** The VIPs to watch (those with a pid file); a changed pid file path starts over. */
  update(vips: readonly VipConfig[]): void {
    const wanted = new Map<string, string>();
    for (const v of vips) if (v.pidfile !== undefined) wanted.set(v.name, v.pidfile);
    for (const [name, path] of this.vips) {
      if (wanted.get(name) === path) continue;
      this.vips.delete(name);
      const file = this.files.get(path);
      file?.vips.delete(name);
      if (file !== undefined && file.vips.size === 0) {
        file.removed = true;
        this.files.delete(path);
      }
    }
    for (const [name, path] of wanted) {
      if (this.vips.has(name)) continue;
      this.vips.set(name, path);
      let file = this.files.get(path);
      if (file === undefined) {
        file = {
          path,
          vips: new Set([name]),
          status: 'unknown',
          pid: undefined,
          lastRead: 0,
          reading: false,
          removed: false,
        };
        this.files.set(path, file);
        this.reread(file);
        continue;
      }
      file.vips.add(name);
      // Joins a file already watched: told what is known of its process (or told with the others
      // when the read in flight completes).
      if (file.status === 'running') this.onEvent(name, 'process-start', file.pid);
      else if (file.status === 'exited') this.onEvent(name, 'process-exit', file.pid);
    }
    if (this.timer === undefined && !this.stopped && this.files.size > 0) this.arm();
  }

  /** What is known of a VIP's process. */
  status(vip: string): { status: ProcessStatus; pid: number | undefined } | undefined {
    const path = this.vips.get(vip);
    const file = path === undefined ? undefined : this.files.get(path);
    return file === undefined ? undefined : { status: file.status, pid: file.pid };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const f of this.files.values()) f.removed = true;
    this.files.clear();
    this.vips.clear();
  }

  private arm(): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.poll();
      if (!this.stopped && this.files.size > 0) this.arm();
    }, this.intervalMs);
  }

  /** One tick: probe each running process, re-read the files that are due. */
  private poll(): void {
    const now = this.timers.now();
    for (const file of this.files.values()) {
      if (file.reading) continue;
      if (file.status === 'running' && file.pid !== undefined && !this.alive(file.pid)) {
        this.apply(file, { pid: file.pid, alive: false });
        this.reread(file);
      } else if (now - file.lastRead >= (file.status === 'running' ? this.verifyMs : this.rereadMs)) {
        this.reread(file);
      }
    }
  }

  private reread(file: FileWatch): void {
    file.lastRead = this.timers.now();
    let read: number | undefined | Promise<number | undefined>;
    try {
      read = this.readPid(file.path);
    } catch {
      read = undefined; // an injected reader that throws: as readPidFile, no PID now
    }
    if (!(read instanceof Promise)) {
      this.apply(file, { pid: read, alive: read !== undefined && this.alive(read) });
      return;
    }
    file.reading = true;
    const settled = (pid: number | undefined): void => {
      file.reading = false;
      if (file.removed || this.stopped) return;
      this.apply(file, { pid, alive: pid !== undefined && this.alive(pid) });
    };
    // A failed read is a missing pid; a failure to take the pid in is reported, never left floating.
    read
      .then(settled, () => settled(undefined))
      .catch((err: unknown) => {
        // Forget what this read found, so that the next read (within `rereadMs`) tells it again.
        file.reading = false;
        file.status = 'unknown';
        file.pid = undefined;
        this.onError(err);
      });
  }

  private apply(file: FileWatch, obs: PidObservation): void {
    const step = pidStep(file, obs);
    file.status = step.status;
    file.pid = step.pid;
    if (step.event === undefined) return;
    for (const vip of [...file.vips]) this.onEvent(vip, step.event, step.pid);
  }
}
