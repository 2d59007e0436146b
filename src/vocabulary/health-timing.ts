/**
 * Limits of healthd's timing (site.yaml `health`, a service's `health`): fast enough for BFD-like
 * failover (a check every 100 ms), never a timeout that outlives its interval (checks would pile
 * up behind each other), nothing slower than an hour. Pure: validate (the site's) and check (each
 * service's) read the same rules and report them as E_HEALTH_TIMING.
 */

export const HEALTH_LIMITS = {
  minIntervalMs: 100,
  maxIntervalMs: 3_600_000,
  minTimeoutMs: 10,
  maxHoldDownMs: 3_600_000,
} as const;

export interface TimingValues {
  intervalMs: number;
  timeoutMs: number;
  holdDownMs: number;
}

/** One broken limit: the key it is reported at, and why. */
export interface TimingProblem {
  key: 'interval' | 'timeout' | 'hold_down';
  message: string;
}

export function healthTimingProblems(t: TimingValues): TimingProblem[] {
  const out: TimingProblem[] = [];
  const L = HEALTH_LIMITS;
  if (t.intervalMs < L.minIntervalMs || t.intervalMs > L.maxIntervalMs) {
    out.push({
      key: 'interval',
      message: `health.interval is ${t.intervalMs} ms: it must be ${L.minIntervalMs} ms to 1 h`,
    });
  }
  if (t.timeoutMs < L.minTimeoutMs || t.timeoutMs >= t.intervalMs) {
    out.push({
      key: 'timeout',
      message: `health.timeout is ${t.timeoutMs} ms: it must be at least ${L.minTimeoutMs} ms and below health.interval (${t.intervalMs} ms)`,
    });
  }
  if (t.holdDownMs > L.maxHoldDownMs) {
    out.push({ key: 'hold_down', message: `health.hold_down is ${t.holdDownMs} ms: at most 1 h` });
  }
  return out;
}
