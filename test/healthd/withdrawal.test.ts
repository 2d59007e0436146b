import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideBatch, initialState } from '../../src/healthd/core.ts';
import type { BirdChange, HealthdEvent, HealthdState, VipConfig } from '../../src/healthd/types.ts';
import {
  birdSettled,
  mayBeAnnounced,
  type WithdrawOutcome,
  WithdrawWaiters,
  withdrawnConfirmed,
} from '../../src/healthd/withdrawal.ts';
import { FakeClock } from './fake-clock.ts';

function vip(name: string, protocols = [`vip_${name}`]): VipConfig {
  return {
    name,
    prefixes: [],
    protocols,
    check: { kind: 'tcp', address: '127.0.0.1', port: 1 },
    intervalMs: 100,
    timeoutMs: 50,
    rise: 1,
    fall: 1,
    holdDownMs: 0,
  };
}

const ok = (v: string): HealthdEvent => ({ type: 'check-result', vip: v, ok: true, latencyMs: 1 });
const ack = (...changes: BirdChange[]): HealthdEvent => ({ type: 'bird-result', ok: true, changes });
const on = (p: string): BirdChange => ({ protocol: p, enabled: true });
const off = (p: string): BirdChange => ({ protocol: p, enabled: false });

/** Runs batches of events through the core from a fresh state of VIPs a (two protocols) and b. */
function run(...batches: HealthdEvent[][]): HealthdState {
  let s = initialState([vip('a', ['vip_a', 'vip6_a']), vip('b')], 0);
  batches.forEach((events, i) => {
    s = decideBatch(s, events, i + 1).state;
  });
  return s;
}

describe('withdrawal predicates', () => {
  const UP: HealthdEvent = { type: 'bird-up' };
  // [name, state, vip, bird driven, withdrawnConfirmed, mayBeAnnounced]
  const table: [string, HealthdState, string, boolean, boolean, boolean][] = [
    ['fresh, BIRD not connected', run(), 'a', true, false, true],
    ['fresh, without BIRD', run(), 'a', false, true, false],
    ['reconcile sent, not yet confirmed', run([UP]), 'a', true, false, true],
    [
      'reconcile confirmed off',
      run([UP], [ack(off('vip_a'), off('vip6_a'), off('vip_b'))]),
      'a',
      true,
      true,
      false,
    ],
    ['one of two protocols confirmed', run([UP], [ack(off('vip_a'))]), 'a', true, false, true],
    [
      'announced and confirmed',
      run([UP], [ack(off('vip_a'), off('vip6_a'))], [ok('a')], [ack(on('vip_a'), on('vip6_a'))]),
      'a',
      true,
      false,
      true,
    ],
    [
      'held: withdraw sent, not confirmed',
      run(
        [UP],
        [ack(off('vip_a'), off('vip6_a'))],
        [ok('a')],
        [ack(on('vip_a'), on('vip6_a'))],
        [{ type: 'drain', vip: 'a' }],
      ),
      'a',
      true,
      false,
      true,
    ],
    [
      'held and confirmed',
      run(
        [UP],
        [ack(off('vip_a'), off('vip6_a'))],
        [ok('a')],
        [ack(on('vip_a'), on('vip6_a'))],
        [{ type: 'drain', vip: 'a' }],
        [ack(off('vip_a'), off('vip6_a'))],
      ),
      'a',
      true,
      true,
      false,
    ],
    ['unknown VIP', run(), 'nope', true, true, false],
  ];
  for (const [name, state, v, bird, withdrawn, may] of table) {
    it(`${name}: withdrawn=${withdrawn}, may be announced=${may}`, () => {
      assert.equal(withdrawnConfirmed(state, v, bird), withdrawn);
      assert.equal(mayBeAnnounced(state, v, bird), may);
    });
  }
});

describe('BIRD settled (what reconcile waits for)', () => {
  const UP: HealthdEvent = { type: 'bird-up' };
  const table: [string, HealthdState, boolean][] = [
    ['not connected', run(), false],
    ['reconcile sent', run([UP]), false],
    ['part confirmed', run([UP], [ack(off('vip_a'), off('vip6_a'))]), false],
    ['all confirmed', run([UP], [ack(off('vip_a'), off('vip6_a'), off('vip_b'))]), true],
    [
      'a change after that, unconfirmed',
      run([UP], [ack(off('vip_a'), off('vip6_a'), off('vip_b'))], [ok('b')]),
      false,
    ],
  ];
  for (const [name, state, settled] of table)
    it(`${name}: ${settled}`, () => assert.equal(birdSettled(state), settled));
});

describe('withdraw waiters', () => {
  const UP: HealthdEvent = { type: 'bird-up' };
  const announced = run(
    [UP],
    [ack(off('vip_b'), off('vip_a'), off('vip6_a'))],
    [ok('b')],
    [ack(on('vip_b'))],
  );

  function setup(convergeMs = 500) {
    const clock = new FakeClock();
    const w = new WithdrawWaiters({ timers: clock, bird: () => true, convergeMs: () => convergeMs });
    return { clock, w };
  }
  const collect = (p: Promise<WithdrawOutcome>) => {
    const box: { o?: WithdrawOutcome } = {};
    void p.then((o) => {
      box.o = o;
    });
    return box;
  };

  it('answers after BIRD confirmed and converge_ms passed', async () => {
    const { clock, w } = setup();
    const held = decideBatch(announced, [{ type: 'drain', vip: 'b' }], 10).state;
    const box = collect(w.wait(announced, ['b'], (s) => s.vips.get('b')?.draining === true, 5000));
    await clock.advance(100);
    w.check(held);
    await clock.advance(1000);
    assert.equal(box.o, undefined, 'withdraw not confirmed yet');
    const confirmed = decideBatch(held, [ack(off('vip_b'))], 20).state;
    w.check(confirmed);
    await clock.advance(499);
    assert.equal(box.o, undefined, 'still converging');
    await clock.advance(1);
    assert.deepEqual(box.o, { ok: true, vips: ['b'], waitedMs: 1600, converged: true });
    assert.equal(w.size, 0);
    assert.equal(clock.timers, 0);
  });

  it('a VIP that was never announced is answered at once', async () => {
    const { clock, w } = setup();
    const held = decideBatch(announced, [{ type: 'drain', vip: 'a' }], 10).state;
    const box = collect(w.wait(announced, ['a'], () => true, 5000));
    w.check(held);
    await clock.advance(0);
    assert.deepEqual(box.o, { ok: true, vips: ['a'], waitedMs: 0, converged: false });
  });

  it('released before done, timed out, cancelled', async () => {
    const { clock, w } = setup();
    const held = decideBatch(announced, [{ type: 'drain', vip: 'b' }], 10).state;
    const released = collect(w.wait(announced, ['b'], (s) => s.vips.get('b')?.draining === true, 5000));
    const timedOut = collect(w.wait(announced, ['b'], () => true, 300));
    const cancelled = collect(w.wait(announced, ['b'], () => true, 5000));
    w.check(held);
    await clock.advance(300);
    assert.equal(timedOut.o?.ok === false && timedOut.o.code, 'E_TIMEOUT');
    w.check(decideBatch(held, [{ type: 'undrain', vip: 'b' }], 20).state);
    await clock.advance(0);
    assert.equal(released.o?.ok === false && released.o.code, 'E_CANCELLED');
    w.cancelAll('shutting down');
    await clock.advance(0);
    assert.deepEqual(cancelled.o, { ok: false, code: 'E_CANCELLED', error: 'shutting down' });
    assert.equal(clock.timers, 0);
  });
});
