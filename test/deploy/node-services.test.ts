import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findTool } from '../../src/build/run-tool.ts';
import { applyNode } from '../../src/deploy/apply.ts';
import type { ProcessControl } from '../../src/deploy/control.ts';
import { actionOrder } from '../../src/deploy/execute.ts';
import { type Hooks, nodeHooks } from '../../src/deploy/hooks.ts';
import { type Action, computePlan } from '../../src/deploy/plan.ts';
import {
  healthdSocket,
  type NodeFlags,
  type NodeService,
  nodeServices,
  registerNodeService,
  type ServiceContext,
} from '../../src/deploy/services/index.ts';
import { currentGeneration, openStore, rootLayout } from '../../src/deploy/store.ts';
import { Supervisor } from '../../src/deploy/supervisor.ts';
import {
  installSystemdUnits,
  systemdPatterns,
  systemdUnitFile,
  systemdUnitName,
  unitNameOf,
} from '../../src/deploy/systemd-units.ts';
import { unitSpec } from '../../src/deploy/units.ts';
import { DEFAULT_LAYOUT } from '../../src/render/types.ts';
import { pidAlive } from '../../src/runtime/pid.ts';
import { eventually } from '../helpers/ns-fixture.ts';
import { withTempDir } from '../helpers/tools.ts';

const ALL: NodeFlags = { manageAddresses: true, manageFirewall: true, anycast: true };

const serviceActions = (actions: readonly Action[]): string[] =>
  actions.flatMap((a) => (a.kind === 'service' ? [`${a.verb} ${a.service} (${a.reason})`] : []));

/** The plan for a first install of `files` (nothing applied, nothing running). */
const firstPlan = (files: Record<string, string>, flags: NodeFlags = ALL) =>
  computePlan({
    next: new Map(Object.entries(files)),
    installed: new Map(),
    applied: new Map(),
    running: null,
    ...flags,
  });

describe('a node service that is not running is started, under systemd too', () => {
  // Under a booted systemd, apply wrote intentlb-bird.service and intentlb-healthd.service but only
  // printed a note instead of starting them: the node never announced a VIP
  // (test/integration/systemd-node.test.ts found it).
  for (const kind of ['systemd', 'supervisor'] as const) {
    it(`${kind}: BIRD, keepalived and healthd start through the control`, async () => {
      await withTempDir(async (root) => {
        const layout = rootLayout(root);
        const started: string[] = [];
        const control = fakeControl(started, kind);
        const ctx: ServiceContext = { layout, control, hooks: noHooks, flags: ALL, log: () => {} };
        for (const s of nodeServices().filter((x) => x.name === 'bird' || x.name === 'keepalived'))
          await s.act(ctx);
        const hooks = nodeHooks({
          layout,
          control,
          log: () => {},
          hookDir: join(root, 'hooks'),
          healthd: async () => {},
          anycast: true,
        });
        await hooks.healthdConfigChanged();
        assert.deepEqual(started.sort(), ['bird', 'healthd', 'keepalived']);
      });
    });
  }
});

describe('BIRD reconfigured: healthd reads the new generation before the configure, reconciles after', () => {
  // Removing a VIP from an anycast node failed the apply: BIRD's configuration no longer had the
  // VIP's protocol, healthd still managed it, and BIRD refused the reconcile (8003) until it timed
  // out (found under a booted systemd: test/interop/systemd-node.test.ts).
  it('reload before, reconcile after, on an anycast node whose healthd answers', async () => {
    await withTempDir(async (root) => {
      const layout = rootLayout(root);
      mkdirSync(layout.run, { recursive: true });
      const server = createServer((c) => c.end());
      await new Promise<void>((r) => server.listen(healthdSocket(layout), r));
      try {
        const asked: string[] = [];
        const hooks = (anycast: boolean) =>
          nodeHooks({
            layout,
            control: fakeControl([]),
            log: () => {},
            hookDir: join(root, 'hooks'),
            healthd: async (_socket, command) => {
              asked.push(command);
            },
            anycast,
          });
        assert.equal(await hooks(true).beforeBirdConfigure(), true);
        await hooks(true).birdReconfigured();
        assert.deepEqual(asked, ['reload', 'reconcile']);
        assert.equal(await hooks(false).beforeBirdConfigure(), false);
        await hooks(false).birdReconfigured();
        assert.deepEqual(asked, ['reload', 'reconcile']);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  });
});

describe('the node services table', () => {
  it('holds BIRD, nftables, keepalived and healthd, in the order plan lists them', () => {
    assert.deepEqual(
      nodeServices().map((s) => s.name),
      ['bird', 'nftables', 'keepalived', 'healthd'],
    );
  });

  for (const s of nodeServices()) {
    it(`${s.name}: a change to its files is its action in the plan; its unit is the same for the supervisor and systemd`, async () => {
      for (const file of s.files) {
        assert.deepEqual(serviceActions(firstPlan({ [file]: 'x' }).actions), [
          `${s.verb} ${s.name} (${file} added)`,
        ]);
      }
      if (s.unit === undefined) {
        assert.throws(() => unitSpec(DEFAULT_LAYOUT, s.name), /unknown unit/);
        assert.throws(() => systemdUnitName(s.name), /unknown unit/);
        return;
      }
      const spec = unitSpec(DEFAULT_LAYOUT, s.name);
      assert.deepEqual(spec, { name: s.name, ...s.unit.spec(DEFAULT_LAYOUT) });
      const unit = systemdUnitName(s.name);
      assert.equal(unit, `intentlb-${s.name}.service`);
      assert.equal(unitNameOf(unit), s.name);
      assert.ok(systemdPatterns().includes(unit));
      const file = systemdUnitFile(DEFAULT_LAYOUT, s.name);
      assert.ok(file.includes(`\nDescription=${s.unit.systemd.description}\n`), file);
      assert.ok(file.includes(`\nKillSignal=${spec.stopSignal}\n`), file);
      await withTempDir((dir) => {
        assert.ok(installSystemdUnits(DEFAULT_LAYOUT, dir).includes(join(dir, unit)));
        assert.equal(readFileSync(join(dir, unit), 'utf8'), file);
      });
    });
  }

  it('each service says on which nodes apply manages it', () => {
    const files = Object.fromEntries(nodeServices().flatMap((s) => s.files.map((f) => [f, 'x'])));
    for (const flags of [
      ALL,
      { manageAddresses: false, manageFirewall: false, anycast: false },
      { manageAddresses: false, manageFirewall: true, anycast: false },
      { manageAddresses: true, manageFirewall: false, anycast: true },
    ]) {
      assert.deepEqual(
        firstPlan(files, flags).actions.flatMap((a) => (a.kind === 'service' ? [a.service] : [])),
        nodeServices()
          .filter((s) => s.applies(flags))
          .map((s) => s.name),
      );
    }
  });
});

/** A fake control: nothing running, every start recorded. */
function fakeControl(started: string[], kind: ProcessControl['kind'] = 'supervisor'): ProcessControl {
  return {
    kind,
    start: async (u) => {
      started.push(u);
      return { already: false };
    },
    stop: async () => {},
    running: async () => new Set(started),
    units: async () => [],
  };
}

describe("keepalived's reload trusts its pid file only while that PID is keepalived", () => {
  /** A process named `keepalived` (a copy of sleep), or a plain sleep; SIGHUP ends either. */
  const sleeper = (dir: string, name: string): ChildProcess => {
    const bin = join(dir, name);
    copyFileSync(findTool('sleep')!, bin);
    chmodSync(bin, 0o755);
    return spawn(bin, ['30'], { stdio: 'ignore' });
  };
  const exited = (p: ChildProcess): Promise<NodeJS.Signals | null> =>
    new Promise((r) =>
      p.exitCode !== null || p.signalCode !== null ? r(p.signalCode) : p.once('exit', (_c, s) => r(s)),
    );
  const keepalived = nodeServices().find((s) => s.name === 'keepalived')!;
  /**
   * Runs keepalived's action with a pid file holding `pidOf(process)` next to a sleeper named
   * `name`; returns what it started and what ended the sleeper (null: still running).
   */
  const actBeside = async (
    name: string,
    pidOf: (p: ChildProcess) => string,
  ): Promise<{ started: string[]; signal: NodeJS.Signals | null }> =>
    withTempDir(async (root) => {
      const layout = rootLayout(root);
      mkdirSync(layout.run, { recursive: true });
      const p = sleeper(root, name);
      try {
        await new Promise((r) => p.once('spawn', r));
        writeFileSync(join(layout.run, 'keepalived.pid'), `${pidOf(p)}\n`);
        const started: string[] = [];
        const control = fakeControl(started, 'systemd');
        await keepalived.act({ layout, control, hooks: noHooks, flags: ALL, log: () => {} });
        const signal = await Promise.race([
          exited(p),
          new Promise<null>((r) => setTimeout(() => r(null), 300)),
        ]);
        return { started, signal };
      } finally {
        p.kill('SIGKILL');
      }
    });

  it('a running keepalived gets SIGHUP; nothing is started', async () => {
    assert.deepEqual(await actBeside('keepalived', (p) => String(p.pid)), { started: [], signal: 'SIGHUP' });
  });

  it("a stale pid file (keepalived SIGKILLed, its PID now another process's): started, the other process untouched", async () => {
    for (const stale of [(p: ChildProcess) => String(p.pid), () => '999999999', () => 'garbage'])
      assert.deepEqual(await actBeside('not-keepalived', stale), { started: ['keepalived'], signal: null });
  });
});

const noHooks: Hooks = {
  before: async () => {},
  after: async () => {},
  healthdConfigChanged: async () => {},
  beforeBirdConfigure: async () => false,
  birdReconfigured: async () => {},
};

describe('a service added to the table alone', () => {
  /** `script` failover: runs an operator's script; the firewall-like kind before the instances. */
  const seen: string[] = [];
  const script: NodeService = {
    name: 'script',
    files: ['script/failover.sh', 'script/failover.env'],
    verb: 'run',
    phase: 'before-instances',
    applies: (flags) => !flags.anycast,
    async act(ctx: ServiceContext) {
      const text = readFileSync(join(ctx.layout.etc, 'script/failover.sh'), 'utf8');
      seen.push(text);
      if (text === 'bad') throw new Error('script refused');
    },
    unit: {
      spec: () => ({
        command: findTool('sleep') ?? 'sleep',
        args: ['30'],
        readySocket: null,
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 2000,
      }),
      systemd: { description: 'a failover script for intentlb', after: 'intentlb-keepalived.service' },
    },
  };
  const vrrp: NodeFlags = { manageAddresses: false, manageFirewall: true, anycast: false };

  it('shows up in plan actions and apply order', () => {
    const undo = registerNodeService(script);
    try {
      const next = {
        'keepalived/keepalived.conf': 'k',
        'nftables/intentlb.nft': 'n',
        'script/failover.sh': 's',
        'script/failover.env': 'e',
      };
      const plan = firstPlan(next, vrrp);
      assert.deepEqual(serviceActions(plan.actions), [
        'load nftables (nftables/intentlb.nft added)',
        'reload keepalived (keepalived/keepalived.conf added)',
        'run script (script/failover.sh added, script/failover.env added)',
      ]);
      assert.deepEqual(serviceActions(firstPlan(next, ALL).actions), [
        'load nftables (nftables/intentlb.nft added)',
        'reload keepalived (keepalived/keepalived.conf added)',
      ]);
      const instance: Action[] = [
        { kind: 'address-remove', address: '198.18.50.10' },
        { kind: 'stop', instance: 'b', reason: 'instance removed' },
        { kind: 'start', instance: 'a', reason: 'new instance' },
        ...plan.actions,
        { kind: 'address-add', address: '198.18.50.20' },
      ];
      const order = [...instance]
        .sort((a, b) => actionOrder(a) - actionOrder(b))
        .map((a) => (a.kind === 'service' ? a.service : a.kind));
      assert.deepEqual(order, [
        'address-add',
        'nftables',
        'script',
        'start',
        'stop',
        'address-remove',
        'keepalived',
      ]);
    } finally {
      undo();
    }
  });

  it("the supervisor runs a unit's steps before its process, and a failing step fails the start", async () => {
    await withTempDir(async (dir) => {
      const marker = join(dir, 'marker');
      const steps = { fail: false };
      const unit = script.unit!;
      const demo: NodeService = {
        ...script,
        name: 'prestart-demo',
        unit: {
          ...unit,
          spec: (layout) => ({
            ...unit.spec(layout),
            preStart: [
              { command: findTool('touch') ?? 'touch', args: [marker] },
              ...(steps.fail ? [{ command: findTool('false') ?? 'false', args: [] }] : []),
            ],
          }),
        },
      };
      const undo = registerNodeService(demo);
      const supervisor = new Supervisor({ layout: rootLayout(dir), log: () => {} });
      try {
        assert.deepEqual(await supervisor.start('prestart-demo'), { ok: true });
        assert.ok(existsSync(marker), 'the step ran');
        assert.deepEqual(await supervisor.stop('prestart-demo'), { ok: true });
        steps.fail = true;
        const failed = await supervisor.start('prestart-demo');
        assert.equal(failed.ok, false);
        assert.match(failed.ok ? '' : failed.error, /before start: \S*false/);
        assert.deepEqual(await supervisor.stop('prestart-demo'), { ok: true });
      } finally {
        await supervisor.close();
        undo();
      }
    });
  });

  it('apply runs its action, and rolls it back with the node when it fails', async () => {
    const undo = registerNodeService(script);
    try {
      await withTempDir(async (dir) => {
        const store = openStore(dir);
        const started: string[] = [];
        const opts = {
          store,
          control: fakeControl(started),
          hooks: noHooks,
          log: () => {},
          ...vrrp,
          manageFirewall: false,
        };
        seen.length = 0;
        const files = (sh: string) => [
          { path: 'script/failover.sh', content: sh },
          { path: 'script/failover.env', content: 'A=1' },
        ];
        const first = await applyNode(files('v1'), 'r1', opts);
        assert.equal(first.ok, true, first.error);
        assert.deepEqual(serviceActions(first.plan.actions), [
          'run script (script/failover.sh added, script/failover.env added)',
        ]);
        assert.deepEqual(seen, ['v1']);
        assert.deepEqual(started, [], 'its action ran alone, without process control');
        // Its files unchanged, but its process not running: apply starts it; then nothing to do.
        const again = await applyNode(files('v1'), 'r1', opts);
        assert.deepEqual(serviceActions(again.plan.actions), ['start script (not running)']);
        assert.deepEqual(started, ['script']);
        const still = await applyNode(files('v1'), 'r1', opts);
        assert.deepEqual(still.plan.actions, [], 'unchanged and running: nothing to run');
        const bad = await applyNode(files('bad'), 'r2', opts);
        assert.equal(bad.ok, false);
        assert.equal(bad.rolledBack, true);
        assert.match(bad.error ?? '', /script refused/);
        assert.deepEqual(seen, ['v1', 'bad', 'v1'], 'rolled back: the action runs on the old file');
        assert.equal(currentGeneration(store), first.generation);
        assert.deepEqual(started, ['script'], 'the rollback ran the action alone');
      });
    } finally {
      undo();
    }
  });

  it('is a unit of the supervisor and of systemd, and goes away with its registration', async () => {
    const undo = registerNodeService(script);
    try {
      const spec = unitSpec(DEFAULT_LAYOUT, 'script');
      assert.equal(spec.name, 'script');
      assert.equal(systemdUnitName('script'), 'intentlb-script.service');
      assert.equal(unitNameOf('intentlb-script.service'), 'script');
      assert.ok(systemdPatterns().includes('intentlb-script.service'));
      const file = systemdUnitFile(DEFAULT_LAYOUT, 'script');
      assert.match(file, /\nDescription=a failover script for intentlb\n/);
      assert.match(
        file,
        /\nAfter=network-online\.target intentlb-boot\.service intentlb-keepalived\.service\n/,
      );
      assert.match(file, /\nExecStart=\S*sleep 30\n/);
      await withTempDir(async (dir) => {
        assert.ok(installSystemdUnits(DEFAULT_LAYOUT, dir).includes(join(dir, 'intentlb-script.service')));
        const supervisor = new Supervisor({ layout: rootLayout(dir), log: () => {} });
        try {
          assert.deepEqual(await supervisor.start('script'), { ok: true });
          assert.deepEqual(
            supervisor.status().map((u) => [u.name, u.state]),
            [['script', 'running']],
          );
          assert.deepEqual(await supervisor.stop('script'), { ok: true });
        } finally {
          await supervisor.close();
        }
      });
    } finally {
      undo();
    }
    assert.throws(() => unitSpec(DEFAULT_LAYOUT, 'script'), /unknown unit script/);
    assert.throws(() => systemdUnitName('script'), /unknown unit script/);
    assert.equal(unitNameOf('intentlb-script.service'), undefined);
    assert.ok(!systemdPatterns().includes('intentlb-script.service'));
    assert.deepEqual(serviceActions(firstPlan({ 'script/failover.sh': 's' }, vrrp).actions), []);
  });

  it('answers a stop that is still finishing, and starts the same unit again beside it', async () => {
    // A process that ignores its stop signal, as an HAProxy finishing a soft stop seems to.
    const lingerer: NodeService = {
      ...script,
      name: 'lingerer',
      unit: {
        spec: () => ({
          command: process.execPath,
          args: ['-e', "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000); console.log('ready');"],
          readySocket: null,
          stopSignal: 'SIGHUP',
          stopTimeoutMs: 60_000,
        }),
        systemd: { description: 'a slow stopper' },
      },
    };
    const undo = registerNodeService(lingerer);
    try {
      await withTempDir(async (dir) => {
        let ready = 0;
        const log = (e: Record<string, unknown>): void => {
          if (e.event === 'output' && e.line === 'ready') ready++;
        };
        const supervisor = new Supervisor({ layout: rootLayout(dir), log });
        try {
          assert.deepEqual(await supervisor.start('lingerer'), { ok: true });
          const old = supervisor.status()[0]!.pid!;
          // Its signal handler is in place (a loaded machine starts node slowly).
          await eventually(() => ready === 1, 10_000, 'the process is ready');
          assert.deepEqual(await supervisor.stop('lingerer'), { ok: true });
          assert.deepEqual(
            supervisor.status().map((u) => [u.name, u.state, u.pid]),
            [['lingerer', 'stopping', old]],
            'stop answered while the process still finishes',
          );
          assert.ok(pidAlive(old));
          assert.deepEqual(await supervisor.start('lingerer'), { ok: true });
          const states = supervisor.status().map((u) => [u.state, u.pid === old]);
          assert.deepEqual(states, [
            ['stopping', true],
            ['running', false],
          ]);
          assert.equal(
            readFileSync(join(rootLayout(dir).state, 'supervisor.json'), 'utf8'),
            '["lingerer"]\n',
          );
        } finally {
          await supervisor.close();
        }
        assert.deepEqual(
          supervisor.status().filter((u) => u.pid !== null),
          [],
          'close took the finishing process too',
        );
      });
    } finally {
      undo();
    }
  });

  it('refuses a name that is taken, haproxy, or not a plain word', () => {
    assert.throws(() => registerNodeService({ ...script, name: 'bird' }), /exists/);
    assert.throws(() => registerNodeService({ ...script, name: 'haproxy' }), /exists/);
    assert.throws(() => registerNodeService({ ...script, name: 'a b' }), /bad node service name/);
  });
});
