import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ProcessControl } from '../../src/deploy/control.ts';
import type { Hooks } from '../../src/deploy/hooks.ts';
import { bird, birdSocket } from '../../src/deploy/services/bird.ts';
import { rootLayout } from '../../src/deploy/store.ts';
import { birdPaths } from '../../src/render/bird/paths.ts';
import { allDisabled, parseVipState, vipStateText } from '../../src/runtime/bird-vip-state.ts';
import { FakeBird } from '../healthd/fake-bird.ts';
import { withTempDir } from '../helpers/tools.ts';

const INSTALLED = ['vip_a', 'vip_b'];

/** A node root with the generation's all-disabled state installed and `live` as the live file. */
function node(root: string, live: Map<string, boolean> | undefined) {
  const layout = rootLayout(root);
  const p = birdPaths(layout);
  mkdirSync(join(layout.etc, 'bird'), { recursive: true });
  writeFileSync(p.installedState, vipStateText(allDisabled(INSTALLED)));
  mkdirSync(p.dir, { recursive: true });
  if (live !== undefined) writeFileSync(p.state, vipStateText(live));
  return { layout, p };
}

const noControl: ProcessControl = {
  kind: 'supervisor',
  start: async () => ({ already: false }),
  stop: async () => {},
  running: async () => new Set(),
  units: async () => [],
};

/** Runs BIRD's action against a fake BIRD; returns the order of events and the state at configure. */
async function configureWith(
  root: string,
  live: Map<string, boolean> | undefined,
  reload: (statePath: string) => boolean,
): Promise<{ order: string[]; atConfigure: Map<string, boolean> }> {
  const { layout, p } = node(root, live);
  const fake = new FakeBird(birdSocket(layout), INSTALLED);
  const order: string[] = [];
  let atConfigure = new Map<string, boolean>();
  fake.onConfigure = () => {
    order.push('configure');
    atConfigure = parseVipState(readFileSync(p.state, 'utf8'));
  };
  await fake.start();
  const hooks: Hooks = {
    before: async () => {},
    after: async () => {},
    healthdConfigChanged: async () => {},
    beforeBirdConfigure: async () => {
      order.push('healthd reload');
      return reload(p.state);
    },
    birdReconfigured: async () => {
      order.push('healthd reconcile');
    },
  };
  try {
    await bird.act({
      layout,
      control: noControl,
      hooks,
      flags: { manageAddresses: false, manageFirewall: false, anycast: true },
      log: () => {},
    });
  } finally {
    await fake.stop();
  }
  return { order, atConfigure };
}

describe('BIRD configure keeps what healthd confirmed (ADR 0026)', () => {
  it('healthd reloads (writing the state for the new VIPs) before the configure, reconciles after', async () => {
    await withTempDir(async (root) => {
      const written = new Map([
        ['vip_a', false],
        ['vip_b', true],
      ]);
      const r = await configureWith(root, new Map([['vip_a', false]]), (state) => {
        writeFileSync(state, vipStateText(written));
        return true;
      });
      assert.deepEqual(r.order, ['healthd reload', 'configure', 'healthd reconcile']);
      assert.deepEqual(r.atConfigure, written);
    });
  });

  it('a healthd that did not write it (older, or failing): kept VIPs keep their state, new ones disabled', async () => {
    await withTempDir(async (root) => {
      const r = await configureWith(
        root,
        new Map([
          ['vip_a', false],
          ['vip_gone', false],
        ]),
        () => true,
      );
      assert.deepEqual(
        r.atConfigure,
        new Map([
          ['vip_a', false],
          ['vip_b', true],
        ]),
      );
    });
  });

  it('no healthd: every VIP disabled, whatever the live file said', async () => {
    await withTempDir(async (root) => {
      const r = await configureWith(root, new Map([['vip_a', false]]), () => false);
      assert.deepEqual(r.order, ['healthd reload', 'configure', 'healthd reconcile']);
      assert.deepEqual(r.atConfigure, allDisabled(INSTALLED));
      const none = await withTempDir((r2) => configureWith(r2, undefined, () => true));
      assert.deepEqual(none.atConfigure, allDisabled(INSTALLED), 'no live file yet');
    });
  });
});

describe('a generation from before the state file (a rollback to it)', () => {
  it('is configured without settling anything: its configuration includes no state file', async () => {
    await withTempDir(async (root) => {
      const live = new Map([['vip_a', false]]);
      const r = await configureWith(root, live, (state) => {
        rmSync(state.replace('/run/intentlb/bird/', '/etc/intentlb/bird/'));
        return false;
      });
      assert.deepEqual(r.order, ['healthd reload', 'configure', 'healthd reconcile']);
      assert.deepEqual(r.atConfigure, live, 'left as it was');
    });
  });
});

describe("BIRD's pre-start step, from the unit both back-ends run", () => {
  it("links the configuration and resets the state file to the generation's, every VIP disabled", async () => {
    await withTempDir((root) => {
      const { layout, p } = node(root, new Map([['vip_a', false]]));
      rmSync(p.dir, { recursive: true });
      const spec = bird.unit!.spec(layout);
      assert.deepEqual(spec.args.slice(0, 3), ['-f', '-c', p.config]);
      for (const step of spec.preStart ?? []) execFileSync(step.command, [...step.args]);
      assert.equal(readlinkSync(p.config), p.installed);
      assert.deepEqual(parseVipState(readFileSync(p.state, 'utf8')), allDisabled(INSTALLED));
      // Again over what healthd wrote meanwhile: a restart starts all disabled too.
      writeFileSync(p.state, vipStateText(new Map([['vip_a', false]])));
      for (const step of spec.preStart ?? []) execFileSync(step.command, [...step.args]);
      assert.deepEqual(parseVipState(readFileSync(p.state, 'utf8')), allDisabled(INSTALLED));
    });
  });
});
