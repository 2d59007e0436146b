/**
 * The daemon's event loop around the pure decision core: events are queued, decided in batches by
 * `decideBatch`, and the resulting actions handed back to the daemon; the next deadline of the
 * core (hold-down, convergence, removal) is kept armed as one tick timer. Every timer is on the
 * injected {@link Timers}, so a fake clock drives it.
 */

import { decideBatch, nextDeadline } from './core.ts';
import type { Timers } from './timers.ts';
import type { HealthdAction, HealthdEvent, HealthdState } from './types.ts';

export interface EventLoopOptions {
  readonly timers: Timers;
  readonly state: HealthdState;
  /**
   * Check results arriving within this many ms are decided in one batch (0: each turn of the
   * event loop). Every other event is decided in this turn, and flushes the results waiting with it.
   */
  readonly checkBatchMs: number;
  /** Carries out one action of a decision; `state` is the state after it. */
  readonly execute: (action: HealthdAction, state: HealthdState) => void;
  /** After a decision that changed the state, or a tick (gauges). */
  readonly changed: (prev: HealthdState, next: HealthdState) => void;
  /** After every decision (withdraw waiters). */
  readonly decided: (state: HealthdState) => void;
  /** The daemon is shutting down: once no VIP is left, no tick is armed. */
  readonly stopping: () => boolean;
}

export class EventLoop {
  private current: HealthdState;
  private readonly opts: EventLoopOptions;
  private readonly timers: Timers;
  private queue: HealthdEvent[] = [];
  /** 'now': a flush is queued for this turn of the event loop; 'batch': on the batch timer. */
  private flushScheduled: false | 'now' | 'batch' = false;
  private batchTimer: unknown;
  private tickTimer: unknown;
  /** Conditions on the state that a request waits for (checked after every decision). */
  private readonly conditions = new Set<{
    test: (s: HealthdState) => boolean;
    done: (ok: boolean) => void;
  }>();

  constructor(opts: EventLoopOptions) {
    this.opts = opts;
    this.timers = opts.timers;
    this.current = opts.state;
  }

  get state(): HealthdState {
    return this.current;
  }

  /** Replaces the state outside a decision (a reload's new options); decides nothing. */
  patch(update: (s: HealthdState) => HealthdState): void {
    this.current = update(this.current);
  }

  /**
   * Queues events for the decision core. Each decision costs a pass over every VIP (metrics,
   * deadlines, a copy of the state), so check results — 750 a second on a big node, each at its
   * own moment — wait up to `checkBatchMs` to be decided together (7× fewer passes, bench/healthd/
   * daemon.ts); anything else is decided in this turn of the event loop.
   */
  post(...events: HealthdEvent[]): void {
    this.queue.push(...events);
    if (this.flushScheduled === 'now') return;
    const batchMs = this.opts.checkBatchMs;
    if (batchMs > 0 && events.every((e) => e.type === 'check-result')) {
      if (this.flushScheduled === 'batch') return;
      this.flushScheduled = 'batch';
      this.batchTimer = this.timers.setTimeout(() => this.flush(), batchMs);
      return;
    }
    this.clearBatchTimer();
    this.flushScheduled = 'now';
    this.timers.setImmediate(() => this.flush());
  }

  /** Resolves true once `test` holds after a decision, false after `timeoutMs` or on close. */
  waitUntil(test: (s: HealthdState) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        test,
        done: (ok: boolean) => {
          if (!this.conditions.delete(entry)) return;
          this.timers.clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = this.timers.setTimeout(() => entry.done(false), timeoutMs);
      this.conditions.add(entry);
    });
  }

  /** Stops the timers; every waiting condition resolves false. */
  close(): void {
    if (this.tickTimer !== undefined) this.timers.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    this.clearBatchTimer();
    for (const c of [...this.conditions]) c.done(false);
  }

  private clearBatchTimer(): void {
    if (this.batchTimer !== undefined) this.timers.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
  }

  private flush(): void {
    this.flushScheduled = false;
    this.clearBatchTimer();
    const events = this.queue;
    this.queue = [];
    if (events.length === 0) return;
    const now = this.timers.now();
    const prev = this.current;
    const { state, actions } = decideBatch(prev, events, now);
    this.current = state;
    for (const action of actions) this.opts.execute(action, state);
    const ticked = events.some((e) => e.type === 'tick');
    // The usual batch, check results of VIPs that stay as they are, leaves the very same state:
    // gauges and deadlines cannot have moved.
    if (state !== prev || ticked) {
      this.opts.changed(prev, state);
      this.armTick(now, ticked);
    }
    this.opts.decided(state);
    for (const c of [...this.conditions]) if (c.test(state)) c.done(true);
  }

  private armTick(now: number, afterTick: boolean): void {
    if (this.tickTimer !== undefined) this.timers.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    if (this.opts.stopping() && this.current.vips.size === 0) return;
    const next = nextDeadline(this.current);
    if (next === undefined) return;
    // A deadline that a tick just failed to clear would spin; the core should never ask for that.
    const delay = next > now ? next - now : afterTick ? 100 : 0;
    this.tickTimer = this.timers.setTimeout(() => {
      this.tickTimer = undefined;
      this.post({ type: 'tick' });
    }, delay);
  }
}
