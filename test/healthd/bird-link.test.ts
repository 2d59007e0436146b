import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BirdLink, findDrift, judgeOperation } from '../../src/healthd/bird-link.ts';
import { initialState } from '../../src/healthd/core.ts';
import { systemTimers } from '../../src/healthd/timers.ts';
import type { HealthdEvent, HealthdState } from '../../src/healthd/types.ts';
import { BirdClient, type BirdProtocol, type ProtocolSetResult } from '../../src/runtime/bird-client.ts';
import { eventually } from '../helpers/ns-fixture.ts';
import { withTempDir } from '../helpers/tools.ts';
import { FakeBird } from './fake-bird.ts';
import { FakeClock } from './fake-clock.ts';

function stateWith(sent: Record<string, boolean>, confirmed: Record<string, boolean>): HealthdState {
  const s = initialState([], 0);
  return {
    ...s,
    bird: {
      ...s.bird,
      up: true,
      sent: new Map(Object.entries(sent)),
      confirmed: new Map(Object.entries(confirmed)),
    },
  };
}

const listed = (states: Record<string, string>): BirdProtocol[] =>
  Object.entries(states).map(([name, state]) => ({
    name,
    proto: 'Static',
    table: 'master4',
    state,
    since: '',
    info: '',
    details: [],
  }));

describe('bird link: drift', () => {
  // [name, sent, confirmed, BIRD lists, drifted protocols]
  const table: [
    string,
    Record<string, boolean>,
    Record<string, boolean>,
    Record<string, string>,
    string[],
  ][] = [
    ['agrees', { a: true, b: false }, { a: true, b: false }, { a: 'up', b: 'down' }, []],
    [
      'start and flush count as up and down',
      { a: true, b: false },
      { a: true, b: false },
      { a: 'start', b: 'flush' },
      [],
    ],
    [
      'configure reset an enabled protocol',
      { a: true, b: false },
      { a: true, b: false },
      { a: 'down', b: 'down' },
      ['a'],
    ],
    [
      'someone enabled a withdrawn protocol',
      { a: true, b: false },
      { a: true, b: false },
      { a: 'up', b: 'up' },
      ['b'],
    ],
    ['a confirmed protocol BIRD no longer has', { a: true }, { a: true }, {}, ['a']],
    ['a change in flight is not drift', { a: false }, { a: true }, { a: 'up' }, []],
    ['nothing confirmed yet: nothing to compare', { a: true }, {}, { a: 'down' }, []],
    ['protocols healthd does not manage are ignored', {}, {}, { bgp_rr1: 'down', device1: 'up' }, []],
  ];
  for (const [name, sent, confirmed, birdHas, drift] of table) {
    it(name, () => {
      assert.deepEqual(findDrift(stateWith(sent, confirmed), listed(birdHas)), drift);
    });
  }
});

describe('bird link: judging an operation', () => {
  const result = (name: string, enabled: boolean, over: Partial<ProtocolSetResult>): ProtocolSetResult => ({
    name,
    enabled,
    ok: true,
    changed: true,
    code: enabled ? 11 : 9,
    reply: { code: 0, ok: true, lines: [] },
    state: enabled ? 'up' : 'down',
    confirmed: true,
    ...over,
  });
  it('splits confirmed changes from refused ones, with the reasons', () => {
    const events = judgeOperation(
      [
        { protocol: 'a', enabled: true },
        { protocol: 'b', enabled: false },
        { protocol: 'c', enabled: true },
        { protocol: 'd', enabled: true },
      ],
      [
        result('a', true, {}),
        result('b', false, { ok: false, code: 8003, error: 'No protocols match', confirmed: false }),
        result('c', true, { state: 'down', confirmed: false }),
      ],
    );
    assert.deepEqual(events, [
      { type: 'bird-result', ok: true, changes: [{ protocol: 'a', enabled: true }] },
      {
        type: 'bird-result',
        ok: false,
        changes: [
          { protocol: 'b', enabled: false },
          { protocol: 'c', enabled: true },
          { protocol: 'd', enabled: true },
        ],
        error: 'b: 8003 No protocols match; c: read back down, wanted up; d: no reply',
      },
    ]);
  });
});

describe('bird link against a fake BIRD', { timeout: 60_000 }, () => {
  it('coalesces, judges, reconciles on drift and on reconnect', async () => {
    await withTempDir(async (dir) => {
      const bird = new FakeBird(join(dir, 'bird.ctl'), ['vip_a', 'vip_b']);
      await bird.start();
      const events: HealthdEvent[] = [];
      const reconciles: string[] = [];
      const ops: string[] = [];
      let state = stateWith({}, {});
      const link = new BirdLink({
        config: { socket: bird.path, pollMs: 100, timeoutMs: 2000 },
        timers: systemTimers,
        onEvent: (e) => events.push(...e),
        state: () => state,
        log: () => {},
        onOperation: (r) => ops.push(r),
        onReconcile: (r) => reconciles.push(r),
        reconnectMinMs: 50,
        reconnectMaxMs: 200,
      });
      try {
        link.start();
        await eventually(() => link.connected, 5000, 'connected');
        assert.deepEqual(events, [{ type: 'bird-up', reason: 'connect' }]);

        link.apply({
          type: 'bird',
          reconcile: true,
          changes: [
            { protocol: 'vip_a', enabled: true },
            { protocol: 'vip_b', enabled: true },
          ],
        });
        await link.idle();
        assert.deepEqual(events.slice(1), [
          {
            type: 'bird-result',
            ok: true,
            changes: [
              { protocol: 'vip_a', enabled: true },
              { protocol: 'vip_b', enabled: true },
            ],
          },
        ]);
        assert.deepEqual([bird.enabled('vip_a'), bird.enabled('vip_b')], [true, true]);

        // Actions arriving while an operation is on the wire go out together, last value winning.
        bird.delayMs = 150;
        const before = bird.batches.length;
        link.apply({ type: 'bird', reconcile: false, changes: [{ protocol: 'vip_a', enabled: false }] });
        link.apply({ type: 'bird', reconcile: false, changes: [{ protocol: 'vip_b', enabled: false }] });
        link.apply({ type: 'bird', reconcile: false, changes: [{ protocol: 'vip_a', enabled: true }] });
        link.apply({ type: 'bird', reconcile: false, changes: [{ protocol: 'vip_b', enabled: true }] });
        await link.idle();
        bird.delayMs = 0;
        assert.deepEqual(bird.batches.slice(before), [
          ['disable "vip_a"'],
          ['enable "vip_a"', 'enable "vip_b"'],
        ]);
        assert.deepEqual([bird.enabled('vip_a'), bird.enabled('vip_b')], [true, true]);

        // A refusal comes back as a failed result for that protocol only.
        bird.refuse.add('vip_b');
        events.length = 0;
        link.apply({
          type: 'bird',
          reconcile: false,
          changes: [
            { protocol: 'vip_a', enabled: false },
            { protocol: 'vip_b', enabled: false },
          ],
        });
        await link.idle();
        bird.refuse.clear();
        assert.deepEqual(events, [
          { type: 'bird-result', ok: true, changes: [{ protocol: 'vip_a', enabled: false }] },
          {
            type: 'bird-result',
            ok: false,
            changes: [{ protocol: 'vip_b', enabled: false }],
            error: 'vip_b: 8003 No protocols match',
          },
        ]);
        assert.deepEqual(ops.slice(-1), ['refused']);

        // `configure` resets protocols: the poll notices and asks for a full reconcile.
        state = stateWith({ vip_a: true, vip_b: false }, { vip_a: true, vip_b: false });
        bird.protocols.set('vip_a', true);
        bird.protocols.set('vip_b', false);
        events.length = 0;
        // Two polls answered (the third asked) with BIRD as confirmed: no drift, no event.
        const polled = bird.commands.length;
        await eventually(
          () => bird.commands.slice(polled).filter((c) => c === 'show protocols').length >= 3,
          5000,
          'three polls',
        );
        assert.deepEqual(events, [], 'no drift, no event');
        bird.configure();
        await eventually(() => events.length > 0, 5000, 'drift noticed');
        assert.deepEqual(events, [{ type: 'bird-up', reason: 'drift' }]);

        // BIRD restarting: the connection drops, comes back, and is a reconcile again.
        state = stateWith({}, {});
        events.length = 0;
        await bird.restart();
        await eventually(() => events.length >= 2, 5000, 'reconnected');
        assert.deepEqual(events, [{ type: 'bird-down' }, { type: 'bird-up', reason: 'connect' }]);
        assert.deepEqual(reconciles, ['connect', 'drift', 'connect']);

        // An explicit reconcile.
        events.length = 0;
        assert.equal(link.reconcile(), true);
        assert.deepEqual(events, [{ type: 'bird-up', reason: 'request' }]);
      } finally {
        await link.stop();
        await bird.stop();
      }
      assert.equal(link.connected, false);
      assert.equal(link.reconcile(), false);
    });
  });

  it('a bug that ends its loop is logged, and the link starts over', async () => {
    await withTempDir(async (dir) => {
      const bird = new FakeBird(join(dir, 'bird.ctl'), ['vip_a']);
      await bird.start();
      const events: HealthdEvent[] = [];
      const logs: string[] = [];
      let calls = 0;
      const link = new BirdLink({
        config: { socket: bird.path, pollMs: 100, timeoutMs: 2000 },
        timers: systemTimers,
        onEvent: (e) => {
          if (++calls === 1) throw new Error('bug in onEvent');
          events.push(...e);
        },
        state: () => stateWith({}, {}),
        log: (level, msg, data) => logs.push(`${level} ${msg} ${data?.where ?? ''}`.trim()),
        reconnectMinMs: 20,
        reconnectMaxMs: 50,
      });
      try {
        link.start();
        await eventually(() => events.length === 1, 5000, 'connected again after the bug');
        assert.deepEqual(events, [{ type: 'bird-up', reason: 'connect' }]);
        assert.ok(logs.includes('error internal error bird link'), logs.join('; '));
        assert.equal(link.connected, true);
      } finally {
        await link.stop();
        await bird.stop();
      }
    });
  });

  it('keeps retrying while BIRD is away, quietly', async () => {
    await withTempDir(async (dir) => {
      const bird = new FakeBird(join(dir, 'bird.ctl'), ['vip_a']);
      const events: HealthdEvent[] = [];
      const logs: string[] = [];
      const clock = new FakeClock();
      let attempts = 0;
      const link = new BirdLink({
        config: { socket: bird.path, pollMs: 100, timeoutMs: 2000 },
        timers: clock,
        onEvent: (e) => events.push(...e),
        state: () => stateWith({}, {}),
        log: (_level, msg) => logs.push(msg),
        connect: (socket, timeoutMs) => {
          attempts++;
          return BirdClient.connect(socket, { timeoutMs });
        },
        reconnectMinMs: 20,
        reconnectMaxMs: 50,
      });
      try {
        link.start();
        // Each failed attempt waits out its backoff (20, 40, 50, 50 ... ms) on the fake clock.
        for (let n = 1; n <= 6; n++) {
          await eventually(() => attempts === n && clock.timers === 1, 5000, `attempt ${n} failed`);
          await clock.advance(50);
        }
        await eventually(() => attempts === 7 && clock.timers === 1, 5000, 'attempt 7 failed');
        assert.deepEqual(events, []);
        assert.deepEqual(logs, ['bird unreachable'], 'one line per minute of failures, not one per attempt');
        await clock.advance(60_000);
        await eventually(() => logs.length === 2, 5000, 'the line of the next minute');
        assert.deepEqual(logs, ['bird unreachable', 'bird unreachable']);
        await bird.start();
        await eventually(() => clock.timers === 1, 5000, 'waiting for the next attempt');
        await clock.advance(50);
        await eventually(() => events.length === 1, 5000, 'connected once BIRD is there');
        assert.deepEqual(events, [{ type: 'bird-up', reason: 'connect' }]);
      } finally {
        await link.stop();
        await bird.stop();
      }
    });
  });
});
