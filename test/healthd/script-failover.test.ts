import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { decideBatch, initialState } from '../../src/healthd/core.ts';
import { combineOutcomes, execCheck, verdictOf } from '../../src/healthd/exec-check.ts';
import { HookRunner, type RunCommand } from '../../src/healthd/hooks.ts';
import { fetchServed, PeerWatcher, servedVips } from '../../src/healthd/peers.ts';
import { systemTimers } from '../../src/healthd/timers.ts';
import type {
  HealthdAction,
  HealthdEvent,
  HealthdState,
  HookAction,
  VipConfig,
} from '../../src/healthd/types.ts';
import { FakeClock } from './fake-clock.ts';

// The healthd parts of script failover and hfm-style checks: exec checks under the Nagios exit-code
// convention, UNKNOWN in the decision core, standing by while a preferred peer serves a VIP, the
// peers' /status, and what the failover script is told.

const NODE = process.execPath;

function vip(name: string, over: Partial<VipConfig> = {}): VipConfig {
  return {
    name,
    prefixes: ['198.18.100.10/32'],
    protocols: [],
    check: { kind: 'http', address: '198.18.0.11', port: 20000, path: '/_intentlb/health' },
    intervalMs: 200,
    timeoutMs: 150,
    rise: 2,
    fall: 2,
    holdDownMs: 0,
    ...over,
  };
}

/** Runs events one by one from t = 0 (1 ms apart); returns the final state and every hook action. */
function run(events: HealthdEvent[], vips = [vip('www')]): { state: HealthdState; hooks: HookAction[] } {
  let state = initialState(vips, 0);
  const hooks: HookAction[] = [];
  events.forEach((e, i) => {
    const d = decideBatch(state, [e], i + 1);
    state = d.state;
    hooks.push(...d.actions.filter((a: HealthdAction): a is HookAction => a.type === 'hook'));
  });
  return { state, hooks };
}
const ok: HealthdEvent = { type: 'check-result', vip: 'www', ok: true, latencyMs: 1 };
const down: HealthdEvent = { type: 'check-result', vip: 'www', ok: false, latencyMs: 1, error: 'exit 2' };
const unknown: HealthdEvent = { type: 'check-result', vip: 'www', ok: false, latencyMs: 1, unknown: true };

describe('exec checks: the Nagios convention', () => {
  it('exit 0 up, 1 and 2 down, 3 and others unknown', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 255, null].map(verdictOf), [
      'up',
      'down',
      'down',
      'unknown',
      'unknown',
      'unknown',
      'unknown',
    ]);
  });

  it('runs the program with its argv (no shell) and judges its exit code; a timeout is unknown', async () => {
    const exit = (code: number) =>
      execCheck({ name: 't', argv: [NODE, '-e', `process.exit(${code})`] }, 5000, systemTimers);
    assert.deepEqual(await exit(0).then((o) => [o.ok, o.unknown]), [true, undefined]);
    assert.deepEqual(await exit(2).then((o) => [o.ok, o.unknown]), [false, undefined]);
    assert.deepEqual(await exit(3).then((o) => [o.ok, o.unknown]), [false, true]);
    // `;` and `$(…)` are plain characters of one argument: nothing interprets them.
    const echo = await execCheck(
      {
        name: 'argv',
        argv: [NODE, '-e', 'process.exit(process.argv[1] === "a; $(false)" ? 0 : 2)', 'a; $(false)'],
      },
      5000,
      systemTimers,
    );
    assert.equal(echo.ok, true, echo.error);
    const slow = await execCheck(
      { name: 'slow', argv: [NODE, '-e', 'setTimeout(() => {}, 60000)'] },
      300,
      systemTimers,
    );
    assert.deepEqual([slow.ok, slow.unknown], [false, true]);
    assert.match(slow.error ?? '', /^slow: /);
    const missing = await execCheck({ name: 'gone', argv: ['/nonexistent/check'] }, 1000, systemTimers);
    assert.deepEqual([missing.ok, missing.unknown], [false, true]);
  });

  it('a round is down when any check is down, else unknown when one is, else up', () => {
    const up = { ok: true, latencyMs: 3 };
    const no = { ok: false, latencyMs: 5, error: 'd' };
    const unk = { ok: false, latencyMs: 1, unknown: true, error: 'u' };
    assert.deepEqual(combineOutcomes([up, unk, no]), { ok: false, latencyMs: 5, error: 'd' });
    assert.deepEqual(combineOutcomes([up, unk]), { ok: false, unknown: true, latencyMs: 3, error: 'u' });
    assert.deepEqual(combineOutcomes([up, up]), { ok: true, latencyMs: 3 });
  });
});

describe('core: UNKNOWN results and standing by for a preferred peer', () => {
  it('UNKNOWN neither brings a VIP up nor takes it down; it breaks a success streak, not a failure streak', () => {
    assert.equal(run([ok, unknown, ok]).state.vips.get('www')!.health, 'unknown');
    assert.equal(run([ok, ok, unknown, unknown, unknown]).state.vips.get('www')!.health, 'up');
    // It is no failure either, but the failures on both sides of it still add up (fall 2).
    assert.equal(run([ok, ok, down, unknown, down]).state.vips.get('www')!.health, 'down');
    assert.equal(run([ok, ok, down, unknown, ok]).state.vips.get('www')!.health, 'up');
    assert.equal(run([ok, ok, down, down]).state.vips.get('www')!.health, 'down');
  });

  it('a healthy VIP is not promoted while a preferred peer serves it, and is when the peer stops', () => {
    const peer = (serving: string[]): HealthdEvent => ({ type: 'peer', peer: 'lb1', serving });
    const r = run([peer(['www']), ok, ok, peer([]), peer(['www'])]);
    assert.deepEqual(
      r.hooks.map((h) => [h.state, h.from, h.reason]),
      [
        ['down', 'unknown', 'rise'],
        ['up', 'down', 'peer lb1 stopped serving it'],
        ['down', 'up', 'peer lb1 serves it'],
      ],
    );
    const v = r.state.vips.get('www')!;
    assert.deepEqual([v.health, v.announced, v.yielding], ['up', false, ['lb1']]);
  });

  it('standing by is no ill health: no hold-down when the peer leaves again', () => {
    const r = run(
      [ok, ok, { type: 'peer', peer: 'lb1', serving: ['www'] }, { type: 'peer', peer: 'lb1', serving: [] }],
      [vip('www', { holdDownMs: 60_000 })],
    );
    assert.equal(r.state.vips.get('www')!.announced, true);
  });
});

describe('failover script: environment, retries', () => {
  it('is told the VIP, its addresses, the node, the old and new state and the reason', async () => {
    const seen: { argv: readonly string[]; env: Readonly<Record<string, string>> }[] = [];
    const fake: RunCommand = async (argv, env) => {
      seen.push({ argv, env });
      return { result: 'ok', exitCode: 0, signal: null, durationMs: 1, output: '' };
    };
    const runner = new HookRunner({
      config: {
        onUp: [['/etc/intentlb/failover.d/ipaddr', 'promote']],
        onDown: [['/etc/intentlb/failover.d/ipaddr', 'demote']],
        timeoutMs: 1000,
        env: { INTENTLB_NODE: 'lb2' },
      },
      onOutcome: () => {},
      run: fake,
    });
    runner.run('www', 'up', ['198.18.100.10/32', '2001:db8:100::10/128'], {
      from: 'down',
      reason: 'peer lb1 stopped serving it',
    });
    await runner.idle();
    assert.deepEqual(seen[0]!.argv, ['/etc/intentlb/failover.d/ipaddr', 'promote', 'www', 'up']);
    const env = seen[0]!.env;
    assert.deepEqual(
      [
        env.INTENTLB_VIP,
        env.INTENTLB_ADDRESSES,
        env.INTENTLB_NODE,
        env.INTENTLB_OLD_STATE,
        env.INTENTLB_NEW_STATE,
        env.INTENTLB_REASON,
      ],
      ['www', '198.18.100.10 2001:db8:100::10', 'lb2', 'down', 'up', 'peer lb1 stopped serving it'],
    );
  });

  it('a failed transition runs again after retry_ms until it works; a newer transition replaces it', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    let failures = 2;
    const fake: RunCommand = async (argv) => {
      calls.push(argv[1]!);
      const failed = argv[1] === 'promote' && failures-- > 0;
      return {
        result: failed ? 'failed' : 'ok',
        exitCode: failed ? 1 : 0,
        signal: null,
        durationMs: 1,
        output: '',
      };
    };
    const runner = new HookRunner({
      config: { onUp: [['/s', 'promote']], onDown: [['/s', 'demote']], timeoutMs: 1000, retryMs: 5000 },
      onOutcome: () => {},
      run: fake,
      timers: clock,
    });
    runner.run('www', 'up');
    await runner.idle();
    assert.deepEqual(calls, ['promote']);
    await clock.advance(5000);
    await runner.idle();
    await clock.advance(5000);
    await runner.idle();
    assert.deepEqual(calls, ['promote', 'promote', 'promote']);
    await clock.advance(20_000);
    assert.deepEqual(calls, ['promote', 'promote', 'promote'], 'no retry after success');

    failures = 1;
    runner.run('www', 'down');
    runner.run('www', 'up');
    await runner.idle();
    runner.run('www', 'down');
    await runner.idle();
    await clock.advance(20_000);
    assert.deepEqual(calls.slice(3), ['demote', 'promote', 'demote'], 'the demote replaced the retry');
  });
});

describe("peers: a preferred node's /status", () => {
  it('served VIPs are the announced ones not being removed', () => {
    assert.deepEqual(
      servedVips({
        vips: [
          { name: 'b', announced: true },
          { name: 'a', announced: true },
          { name: 'c', announced: false },
          { name: 'd', announced: true, removing: true },
        ],
      }),
      ['a', 'b'],
    );
    assert.throws(() => servedVips({}));
  });

  it('reads a real /status over HTTP; a peer that does not answer serves nothing', async () => {
    const server = createServer((_, res) =>
      res.end(JSON.stringify({ vips: [{ name: 'www', announced: true }] })),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.deepEqual(await fetchServed({ name: 'lb1', address: '127.0.0.1', port }, 1000), ['www']);
      const clock = new FakeClock();
      const changes: [string, readonly string[], string | undefined][] = [];
      let answer: string[] | Error = ['www'];
      const watcher = new PeerWatcher({
        timers: clock,
        onChange: (peer, serving, error) => changes.push([peer, serving, error]),
        fetch: async () => {
          if (answer instanceof Error) throw answer;
          return answer;
        },
      });
      watcher.update({
        intervalMs: 200,
        timeoutMs: 150,
        nodes: [{ name: 'lb1', address: '127.0.0.1', port }],
      });
      await clock.advance(1);
      await clock.advance(200);
      answer = new Error('no answer in 150 ms');
      await clock.advance(200);
      await clock.advance(200);
      watcher.stop();
      assert.deepEqual(changes, [
        ['lb1', ['www'], undefined],
        ['lb1', [], 'no answer in 150 ms'],
      ]);
    } finally {
      server.close();
    }
  });
});
