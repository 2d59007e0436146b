/**
 * Runs each VIP's check every `intervalMs`, never two at once for the same VIP, and hands the
 * results to a callback. First runs are spread at random over one interval so that 750 VIPs
 * configured at once do not fire together, and every later run is jittered a little so they do
 * not fall back into step. The clock and timers are injected, so tests drive it with a fake clock.
 *
 * Start times are rounded up to a quantum (50 ms by default) and served by one timer: 750 checks
 * a second then cost 20 wake-ups instead of 750, and the checks started together complete
 * together, so the event loop handles their sockets in a few passes. That cuts the CPU of a
 * steady 750 checks/s by about half (see bench/healthd/checks.ts) at the price of starting a check
 * up to one quantum late; the nominal schedule is kept unrounded, so the rate does not drift.
 */

import { type CheckOutcome, startCheck } from './checks.ts';
import type { Timers } from './timers.ts';
import type { VipConfig } from './types.ts';

export interface SchedulerOptions {
  readonly timers: Timers;
  /** Called with each result, `startedAt` on the timers' clock (the core drops stale results by it). */
  readonly onResult: (vip: string, outcome: CheckOutcome, startedAt: number) => void;
  /** Runs one check; defaults to the VIP's check kind from checks.ts. */
  readonly run?: (vip: VipConfig) => Promise<CheckOutcome>;
  /** Uniform in [0, 1); injectable for tests. */
  readonly random?: () => number;
  /** Spread of each later run as a fraction of the interval (±half of it). Default 0.1. */
  readonly jitter?: number;
  /** Start times are rounded up to a multiple of this. Default 50 ms. */
  readonly quantumMs?: number;
}

interface Entry {
  config: VipConfig;
  /** When the next run is meant to start, before rounding to the quantum (so rounding never drifts). */
  due: number;
  /** The slot (start time / quantum) it waits in, if any. */
  slot: number | undefined;
  running: boolean;
  /** A run was asked for while one was in flight. */
  again: boolean;
  removed: boolean;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly timers: Timers;
  private readonly onResult: SchedulerOptions['onResult'];
  /** Runs one check, calling back once (the default path allocates no promise per check). */
  private readonly start: (vip: VipConfig, done: (outcome: CheckOutcome) => void) => void;
  private readonly random: () => number;
  private readonly jitter: number;
  private readonly quantum: number;
  /** Waiting entries per slot, and a min-heap of slot numbers (with stale ones skipped). */
  private readonly slots = new Map<number, Set<Entry>>();
  private readonly heap: number[] = [];
  private timer: unknown;
  private armedSlot: number | undefined;

  constructor(options: SchedulerOptions) {
    this.timers = options.timers;
    this.onResult = options.onResult;
    const run = options.run;
    this.start =
      run === undefined
        ? (vip, done) => startCheck(vip.check, vip.timeoutMs, done, this.timers)
        : (vip, done) => {
            let pending: Promise<CheckOutcome>;
            try {
              pending = run(vip);
            } catch (err) {
              pending = Promise.reject(err);
            }
            pending.then(done, (err: unknown) =>
              done({ ok: false, latencyMs: 0, error: err instanceof Error ? err.message : String(err) }),
            );
          };
    this.random = options.random ?? Math.random;
    this.jitter = options.jitter ?? 0.1;
    this.quantum = Math.max(1, options.quantumMs ?? 50);
  }

  /** Set the VIPs to check: new ones start within one interval, removed ones stop (late results dropped). */
  update(vips: readonly VipConfig[]): void {
    const wanted = new Map(vips.map((v) => [v.name, v]));
    for (const [name, entry] of this.entries) {
      if (!wanted.has(name)) this.remove(name, entry);
    }
    for (const config of wanted.values()) {
      const entry = this.entries.get(config.name);
      if (entry === undefined) {
        const due = this.timers.now() + this.random() * config.intervalMs;
        const fresh: Entry = { config, due, slot: undefined, running: false, again: false, removed: false };
        this.entries.set(config.name, fresh);
        this.arm(fresh, due);
        continue;
      }
      const rescheduled = entry.config.intervalMs !== config.intervalMs;
      entry.config = config;
      if (rescheduled) entry.due = this.timers.now() + this.random() * config.intervalMs;
      if (rescheduled && !entry.running) this.arm(entry, entry.due);
    }
  }

  /** Check a VIP as soon as possible (e.g. after its process started), keeping one in flight at most. */
  trigger(name: string): void {
    const entry = this.entries.get(name);
    if (entry === undefined) return;
    entry.due = this.timers.now();
    if (entry.running) entry.again = true;
    else this.arm(entry, entry.due);
  }

  /** Stop everything; results of checks in flight are dropped. */
  stop(): void {
    for (const [name, entry] of this.entries) this.remove(name, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  get inFlight(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.running) n++;
    return n;
  }

  private remove(name: string, entry: Entry): void {
    entry.removed = true;
    this.unplace(entry);
    this.entries.delete(name);
    this.rearm();
  }

  /** Wait for `at` (on the timers' clock), rounded up to the quantum. */
  private arm(entry: Entry, at: number): void {
    this.unplace(entry);
    const slot = Math.ceil(Math.max(at, this.timers.now()) / this.quantum);
    let waiting = this.slots.get(slot);
    if (waiting === undefined) {
      waiting = new Set();
      this.slots.set(slot, waiting);
      heapPush(this.heap, slot);
    }
    waiting.add(entry);
    entry.slot = slot;
    this.rearm();
  }

  private unplace(entry: Entry): void {
    if (entry.slot === undefined) return;
    this.slots.get(entry.slot)?.delete(entry);
    entry.slot = undefined;
  }

  /** Keep the one timer set for the earliest slot with something waiting. */
  private rearm(): void {
    let next = this.heap[0];
    while (next !== undefined && (this.slots.get(next)?.size ?? 0) === 0) {
      this.slots.delete(next);
      heapPop(this.heap);
      next = this.heap[0];
    }
    if (next === this.armedSlot) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = next;
    if (next === undefined) return;
    const delay = Math.max(0, next * this.quantum - this.timers.now());
    this.timer = this.timers.setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    // The armed slot is due even if the timer fired a fraction of a millisecond early.
    const armed = this.armedSlot ?? Number.NEGATIVE_INFINITY;
    this.timer = undefined;
    this.armedSlot = undefined;
    const now = this.timers.now();
    const due: Entry[] = [];
    for (
      let slot = this.heap[0];
      slot !== undefined && (slot <= armed || slot * this.quantum <= now);
      slot = this.heap[0]
    ) {
      heapPop(this.heap);
      const waiting = this.slots.get(slot);
      this.slots.delete(slot);
      for (const entry of waiting ?? []) {
        entry.slot = undefined;
        due.push(entry);
      }
    }
    for (const entry of due) this.fire(entry);
    this.rearm();
  }

  private fire(entry: Entry): void {
    if (entry.removed || entry.running) return;
    entry.running = true;
    const config = entry.config;
    const startedAt = this.timers.now();
    let inside = true;
    this.start(config, (outcome) => {
      // A check that settles at once (a bad address) is still handled after this loop turn's firing.
      if (inside) queueMicrotask(() => this.finished(entry, config, outcome, startedAt));
      else this.finished(entry, config, outcome, startedAt);
    });
    inside = false;
  }

  private finished(entry: Entry, config: VipConfig, outcome: CheckOutcome, startedAt: number): void {
    entry.running = false;
    if (entry.removed) return;
    const step = entry.config.intervalMs * (1 + this.jitter * (this.random() - 0.5));
    // An overdue check (slow answer, or asked for again) starts at once.
    entry.due = entry.again ? this.timers.now() : Math.max(entry.due + step, this.timers.now());
    entry.again = false;
    this.arm(entry, entry.due);
    this.onResult(config.name, outcome, startedAt);
  }
}

function heapPush(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): void {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
}
