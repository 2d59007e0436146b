import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckOutcome } from '../../src/healthd/checks.ts';
import { Scheduler } from '../../src/healthd/scheduler.ts';
import type { VipConfig } from '../../src/healthd/types.ts';
import { FakeClock } from './fake-clock.ts';

function vip(name: string, intervalMs = 1000): VipConfig {
  return {
    name,
    prefixes: [],
    protocols: [],
    check: { kind: 'tcp', address: '127.0.0.1', port: 1 },
    intervalMs,
    timeoutMs: 500,
    rise: 1,
    fall: 1,
    holdDownMs: 0,
  };
}

/** A check whose answers the test controls. */
class Checks {
  readonly started: { vip: string; at: number }[] = [];
  private readonly open = new Map<string, ((o: CheckOutcome) => void)[]>();
  constructor(
    private readonly clock: FakeClock,
    private readonly instant: boolean,
  ) {}
  run = (v: VipConfig): Promise<CheckOutcome> => {
    this.started.push({ vip: v.name, at: this.clock.now() });
    if (this.instant) return Promise.resolve({ ok: true, latencyMs: 0 });
    return new Promise((resolve) => {
      const list = this.open.get(v.name) ?? [];
      list.push(resolve);
      this.open.set(v.name, list);
    });
  };
  answer(name: string, outcome: CheckOutcome = { ok: true, latencyMs: 1 }): void {
    const next = this.open.get(name)?.shift();
    assert.ok(next, `no check of ${name} in flight`);
    next(outcome);
  }
  inFlight(name: string): number {
    return this.open.get(name)?.length ?? 0;
  }
}

function setup(instant: boolean, random: () => number = Math.random, quantumMs = 1) {
  const clock = new FakeClock();
  const checks = new Checks(clock, instant);
  const results: { vip: string; ok: boolean; startedAt: number; at: number }[] = [];
  const scheduler = new Scheduler({
    timers: clock,
    run: checks.run,
    random,
    quantumMs,
    onResult: (v, o, startedAt) => results.push({ vip: v, ok: o.ok, startedAt, at: clock.now() }),
  });
  return { clock, checks, results, scheduler };
}

describe('healthd scheduler', () => {
  it('spreads first runs over one interval, then keeps each VIP near its interval', async () => {
    const { clock, checks, results, scheduler } = setup(true);
    scheduler.update(Array.from({ length: 750 }, (_, i) => vip(`v${i}`)));
    await clock.advance(1000);
    const first = new Map<string, number>();
    for (const s of checks.started) if (!first.has(s.vip)) first.set(s.vip, s.at);
    assert.equal(first.size, 750, 'every VIP ran within the first interval');
    const perSlot = new Array(10).fill(0);
    for (const at of first.values()) perSlot[Math.min(9, Math.floor(at / 100))]++;
    for (const n of perSlot) assert.ok(n > 30 && n < 130, `first runs spread: ${perSlot.join(',')}`);
    await clock.advance(9000);
    const counts = new Map<string, number>();
    for (const r of results) counts.set(r.vip, (counts.get(r.vip) ?? 0) + 1);
    for (const [name, n] of counts) assert.ok(n >= 9 && n <= 11, `${name} ran ${n} times in 10 s`);
    const gaps = checks.started
      .filter((s) => s.vip === 'v0')
      .map((s, i, all) => s.at - (all[i - 1]?.at ?? 0));
    for (const g of gaps.slice(1)) assert.ok(g >= 950 && g <= 1050, `v0 gap ${g}`);
    scheduler.stop();
    assert.equal(clock.timers, 0);
  });

  it('serves start times from one timer per quantum, without drifting', async () => {
    const { clock, checks, scheduler } = setup(true, Math.random, 50);
    scheduler.update(Array.from({ length: 750 }, (_, i) => vip(`v${i}`)));
    await clock.advance(1000);
    const set0 = clock.set;
    const started0 = checks.started.length;
    await clock.advance(20_000);
    const set = clock.set - set0;
    const started = checks.started.length - started0;
    assert.ok(set <= 20 * 21, `${set} timers for ${started} checks`);
    for (const s of checks.started) assert.equal(s.at % 50, 0, 'starts on the quantum');
    assert.ok(
      Math.abs(started - 750 * 20) < 150,
      `rounding up must not slow the rate: ${started} checks in 20 s`,
    );
    scheduler.stop();
    assert.equal(clock.timers, 0);
  });

  it('never runs two checks of one VIP at once; a slow check delays the next', async () => {
    const { clock, checks, results, scheduler } = setup(false, () => 0);
    scheduler.update([vip('a', 1000)]);
    await clock.advance(0);
    assert.equal(checks.inFlight('a'), 1);
    await clock.advance(5000);
    assert.equal(checks.started.length, 1, 'no second check while the first is in flight');
    checks.answer('a', { ok: false, latencyMs: 5000, error: 'timeout' });
    await clock.advance(0);
    assert.deepEqual(results, [{ vip: 'a', ok: false, startedAt: 0, at: 5000 }]);
    assert.equal(checks.started.length, 2, 'overdue: the next check starts at once');
    checks.answer('a');
    await clock.advance(949);
    assert.equal(checks.started.length, 2);
    await clock.advance(1);
    assert.equal(checks.started.length, 3, 'then back on the interval (minus jitter)');
    scheduler.stop();
  });

  it('update adds, removes (dropping late results) and reschedules on a new interval', async () => {
    const { clock, checks, results, scheduler } = setup(false, () => 0.5);
    scheduler.update([vip('a'), vip('b')]);
    await clock.advance(500);
    assert.equal(checks.started.length, 2);
    scheduler.update([vip('b', 200), vip('c')]);
    assert.equal(scheduler.size, 2);
    checks.answer('a');
    checks.answer('b');
    await clock.advance(0);
    assert.deepEqual(
      results.map((r) => r.vip),
      ['b'],
      'the removed VIP’s late result is dropped',
    );
    await clock.advance(2000);
    const started = (name: string) => checks.started.filter((s) => s.vip === name).length;
    assert.equal(started('a'), 1, 'removed VIP is not checked again');
    assert.equal(started('c'), 1);
    assert.equal(started('b'), 2, 'still one in flight at a time');
    checks.answer('b');
    await clock.advance(200);
    assert.equal(started('b'), 3, 'new interval used');
    scheduler.stop();
    assert.equal(clock.timers, 0);
    checks.answer('b');
    checks.answer('c');
    await clock.advance(10_000);
    assert.equal(started('b'), 3, 'nothing runs after stop');
  });

  it('trigger runs a check now, or right after the one in flight', async () => {
    const { clock, checks, scheduler } = setup(false, () => 0.9);
    scheduler.update([vip('a')]);
    scheduler.trigger('a');
    await clock.advance(0);
    assert.equal(checks.started.length, 1);
    scheduler.trigger('a');
    await clock.advance(10);
    assert.equal(checks.started.length, 1);
    checks.answer('a');
    await clock.advance(0);
    assert.equal(checks.started.length, 2);
    scheduler.trigger('nope');
    scheduler.stop();
  });

  it('a check that throws or rejects becomes a failed result', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    let n = 0;
    const scheduler = new Scheduler({
      timers: clock,
      random: () => 0,
      quantumMs: 1,
      run: () => {
        n++;
        if (n === 1) throw new Error('boom');
        return Promise.reject(new Error('bang'));
      },
      onResult: (_v, o) => seen.push(`${o.ok}:${o.error}`),
    });
    scheduler.update([vip('a')]);
    await clock.advance(1000);
    assert.deepEqual(seen, ['false:boom', 'false:bang']);
    scheduler.stop();
  });
});
