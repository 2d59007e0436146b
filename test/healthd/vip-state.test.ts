import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { healthdControl } from '../../src/healthd/control-client.ts';
import { initialState } from '../../src/healthd/core.ts';
import { HealthdDaemon } from '../../src/healthd/daemon.ts';
import type { HealthdState, VipConfig } from '../../src/healthd/types.ts';
import { VipStateWriter, vipStateOf } from '../../src/healthd/vip-state.ts';
import {
  allDisabled,
  parseVipState,
  stateSymbol,
  vipStateText,
  writeVipState,
} from '../../src/runtime/bird-vip-state.ts';
import { eventually } from '../helpers/ns-fixture.ts';
import { withTempDir } from '../helpers/tools.ts';
import { FakeBird } from './fake-bird.ts';

describe("BIRD's VIP state file", () => {
  it('names each protocol by a constant of the same length, and refuses what is not a VIP protocol', () => {
    assert.equal(stateSymbol('vip_web'), 'off_web');
    assert.equal(stateSymbol('vip6_web'), 'off6_web');
    assert.equal(stateSymbol(`vip6_${'x'.repeat(59)}`).length, 64);
    for (const bad of ['bgp_rr1', 'vip_', 'vip_a b', 'vip_a;define x', 'vipx_a', `vip_${'x'.repeat(61)}`]) {
      assert.throws(() => stateSymbol(bad), /no state symbol/, bad);
    }
  });

  it('writes sorted defines (1: disabled) that parse back to the same states', async () => {
    const states = new Map([
      ['vip_b', false],
      ['vip6_a', true],
      ['vip_a', true],
    ]);
    const text = vipStateText(states);
    assert.deepEqual(
      text.split('\n').filter((l) => l.startsWith('define')),
      ['define off6_a = 1;', 'define off_a = 1;', 'define off_b = 0;'],
    );
    assert.deepEqual(parseVipState(text), states);
    assert.deepEqual(parseVipState(vipStateText(allDisabled(['vip_x']))), new Map([['vip_x', true]]));
    await withTempDir((dir) => {
      const file = join(dir, 'sub', 'vip-state.conf');
      writeVipState(file, states);
      assert.equal(readFileSync(file, 'utf8'), text);
    });
  });
});

const vip = (name: string, protocols: string[]): VipConfig =>
  ({ name, protocols, prefixes: [] }) as unknown as VipConfig;

function withBird(
  state: HealthdState,
  sent: [string, boolean][],
  confirmed: [string, boolean][],
): HealthdState {
  return { ...state, bird: { ...state.bird, sent: new Map(sent), confirmed: new Map(confirmed) } };
}

describe("healthd's view of the state file", () => {
  const vips = [vip('a', ['vip_a', 'vip6_a']), vip('b', ['vip_b']), vip('c', ['vip_c'])];
  const base = initialState([], 0, { convergenceMs: 0 });

  it('enabled only once BIRD confirmed it, disabled as soon as a withdrawal is sent', () => {
    const s = withBird(
      base,
      [
        ['vip_a', true],
        ['vip6_a', true],
        ['vip_b', false], // a withdrawal on the wire: BIRD still has it enabled
        ['vip_c', true], // an announcement on the wire: not confirmed yet
        ['vip_gone', true], // a removed VIP's protocol
      ],
      [
        ['vip_a', true],
        ['vip6_a', true],
        ['vip_b', true],
        ['vip_gone', true],
      ],
    );
    assert.deepEqual(
      vipStateOf(vips, s),
      new Map([
        ['vip_a', false],
        ['vip6_a', false],
        ['vip_b', true],
        ['vip_c', true],
      ]),
    );
  });

  it('writes only when what it says changed, and retries after a failure', async () => {
    await withTempDir((dir) => {
      const errors: string[] = [];
      const writer = new VipStateWriter((_f, e) => errors.push(e));
      const file = join(dir, 'vip-state.conf');
      writer.write(file, vips, base);
      writeFileSync(file, 'changed behind its back\n');
      writer.write(file, vips, base);
      assert.equal(readFileSync(file, 'utf8'), 'changed behind its back\n', 'same states: not rewritten');
      writer.write(file, vips, withBird(base, [['vip_b', true]], [['vip_b', true]]));
      assert.equal(parseVipState(readFileSync(file, 'utf8')).get('vip_b'), false);
      writer.write(join(dir, 'vip-state.conf', 'x'), vips, base); // a file is in the way
      assert.equal(errors.length, 1);
      writer.write(undefined, vips, base); // not configured: nothing
    });
  });
});

async function tcpTarget(): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('healthd keeps the state file at what BIRD confirmed', { timeout: 60_000 }, () => {
  it('all disabled at start, enabled once confirmed, disabled by a drain, new VIPs disabled before reload answers', async () => {
    await withTempDir(async (dir) => {
      const bird = new FakeBird(join(dir, 'bird.ctl'), ['vip_a', 'vip_b']);
      await bird.start();
      const target = await tcpTarget();
      const stateFile = join(dir, 'bird', 'vip-state.conf');
      const common = { interval_ms: 50, timeout_ms: 500, rise: 2, fall: 2, hold_down_ms: 0 };
      const v = (name: string) => ({
        name,
        prefixes: [`198.18.100.${name === 'a' ? 1 : 2}/32`],
        protocols: [`vip_${name}`],
        check: { kind: 'tcp', address: '127.0.0.1', port: target.port },
        ...common,
      });
      const config = (names: string[]) =>
        JSON.stringify({
          node: 't1',
          mode: 'anycast',
          bird: { socket: 'bird.ctl', poll_ms: 200, timeout_ms: 2000, vip_state: 'bird/vip-state.conf' },
          control: 'healthd.sock',
          listen: { address: '127.0.0.1', port: 0 },
          converge_ms: 50,
          vips: names.map(v),
        });
      const file = join(dir, 'healthd.yaml');
      writeFileSync(file, config(['a']));
      const states = () => parseVipState(readFileSync(stateFile, 'utf8'));
      const socket = join(dir, 'healthd.sock');
      const daemon = await HealthdDaemon.start({
        configPath: file,
        log: { write: () => {} },
        defaultMetrics: false,
        birdReconnectMaxMs: 200,
      });
      try {
        assert.deepEqual(states(), new Map([['vip_a', true]]), 'nothing confirmed at start');
        await eventually(() => bird.enabled('vip_a') === true, 10_000, 'a announced');
        await eventually(() => states().get('vip_a') === false, 5000, 'a enabled in the state file');

        writeFileSync(file, config(['a', 'b']));
        const reply = await healthdControl(socket, { cmd: 'reload' }, 5000);
        assert.equal(reply.ok, true);
        // What apply's configure would read right after the reload's answer.
        assert.deepEqual(
          states(),
          new Map([
            ['vip_a', false],
            ['vip_b', true],
          ]),
        );
        await eventually(() => states().get('vip_b') === false, 10_000, 'b enabled once confirmed');

        assert.equal((await healthdControl(socket, { cmd: 'drain' }, 10_000)).ok, true);
        assert.deepEqual([...states().values()], [true, true], 'drained: a configure keeps them withdrawn');
        assert.equal((await healthdControl(socket, { cmd: 'undrain' }, 5000)).ok, true);
        await eventually(() => [...states().values()].every((off) => !off), 10_000, 'undrained');

        writeFileSync(file, config(['b']));
        assert.equal((await healthdControl(socket, { cmd: 'reload' }, 5000)).ok, true);
        assert.deepEqual(states(), new Map([['vip_b', false]]), 'a removed VIP is dropped');
      } finally {
        await daemon.shutdown('test');
        await bird.stop();
        target.server.close();
      }
    });
  });
});
