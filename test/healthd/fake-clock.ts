import { setImmediate as realImmediate } from 'node:timers/promises';
import type { Timers } from '../../src/healthd/timers.ts';

/** Where the fake wall clock starts (the monotonic one starts at 0). */
const EPOCH = Date.UTC(2026, 0, 1);

/**
 * A clock that moves only when told; due timers fire in time order, promises settle in between.
 * `setImmediate` callbacks are due at once: they run on the next `advance` (`advance(0)` too),
 * before any timer.
 */
export class FakeClock implements Timers {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  private immediates: (() => void)[] = [];
  /** How many timers were ever set. */
  set = 0;

  now(): number {
    return this.t;
  }
  wall(): number {
    return EPOCH + this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.set++;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  setImmediate(fn: () => void): void {
    this.immediates.push(fn);
  }
  get timers(): number {
    return this.pending.size;
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      if (this.immediates.length > 0) {
        const due = this.immediates;
        this.immediates = [];
        for (const fn of due) fn();
        continue;
      }
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.pending) {
        if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await flush();
  }

  /**
   * Moves the clock `stepMs` at a time, letting real I/O (sockets, processes) run between steps,
   * until `done` holds; fails after `maxMs` of fake time. For code that mixes the fake clock with
   * real I/O: each step is a positive signal to wait for, never a sleep.
   */
  async runUntil(
    done: () => boolean | Promise<boolean>,
    what: string,
    { stepMs = 10, maxMs = 60_000 }: { stepMs?: number; maxMs?: number } = {},
  ): Promise<void> {
    const end = this.t + maxMs;
    while (!(await done())) {
      if (this.t >= end) throw new Error(`${what}: not reached after ${maxMs} ms of fake time`);
      await this.advance(stepMs);
      // One turn of the real event loop: I/O completed meanwhile gets its callbacks.
      await realImmediate();
    }
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
