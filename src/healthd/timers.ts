/**
 * The clock and timers of healthd, in one injectable interface: the daemon's loop, the scheduler,
 * the checks, the hooks, the pid watch and the BIRD link take every reading of time and every
 * timer from here, so a test drives all of them with one fake clock (test/healthd/fake-clock.ts)
 * instead of sleeping. Nothing in src/healthd calls setTimeout, setImmediate, performance.now or
 * Date.now directly (test/healthd/timers.test.ts keeps it so).
 */

export interface Timers {
  /** Milliseconds on a monotonic clock; the same clock the core's `now` comes from. */
  now(): number;
  /** Milliseconds since the epoch, only to show a monotonic reading as a wall-clock time. */
  wall(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `fn` in this turn of the event loop, after the I/O callbacks already due. */
  setImmediate(fn: () => void): void;
}

/** Node's timers on the monotonic performance clock. */
export const systemTimers: Timers = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
  setImmediate: (fn) => {
    setImmediate(fn);
  },
};
