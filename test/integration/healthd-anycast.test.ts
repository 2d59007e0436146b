import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ProcessControl } from '../../src/deploy/control.ts';
import { healthdRequest } from '../../src/deploy/healthd-request.ts';
import { nodeHooks } from '../../src/deploy/hooks.ts';
import { bird as birdService } from '../../src/deploy/services/bird.ts';
import { healthdControl, holdVip, releaseVip } from '../../src/healthd/control-client.ts';
import type { HealthdStatus } from '../../src/healthd/status.ts';
import { ip } from '../../src/lab/netns.ts';
import type { Model } from '../../src/model/index.ts';
import { birdPaths } from '../../src/render/bird/paths.ts';
import { renderNode } from '../../src/render/node.ts';
import type { NodeLayout } from '../../src/render/types.ts';
import { BirdClient } from '../../src/runtime/bird-client.ts';
import { parseVipState } from '../../src/runtime/bird-vip-state.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { eventually, NsFixture } from '../helpers/ns-fixture.ts';
import { compileFiles, withFiles, yaml } from '../helpers/site.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

// healthd for real: the node's generated BIRD config and healthd.yaml, run in a "node"
// namespace with lab backends answering the monitor URI on the VIPs, and a second BIRD in a
// "peer" namespace (a veth between them) that stands for the router and tells what is announced.
// The node's BIRD runs as its unit says (the pre-start steps, then its command line), reading the
// installed generation through `<etc>`, a link the tests switch as apply does.

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE_ADDR = '198.18.250.2';
const PEER_ADDR = '198.18.250.1';
const WWW = '198.18.100.10';
const PG = '198.18.20.10';
const WWW_ROUTE = `${WWW}/32`;
const PG_ROUTE = `${PG}/32`;

const NEW = '198.18.100.20';

const SITE = withFiles(BASE_SITE, {
  'site.yaml': yaml(
    'site: test',
    'nodes:',
    `  - { name: lb1, address: ${NODE_ADDR} }`,
    '  - { name: lb2, address: 198.18.250.3 }',
    'ha:',
    '  mode: anycast',
    `  bgp: { local_as: 65001, peers: [{ name: rr1, address: ${PEER_ADDR}, as: 65000 }], bfd: fast }`,
    'tls: { policy: intermediate, certs: certs }',
    'teams:',
    '  web: { path: web, vip_pools: [198.18.100.0/24, "2001:db8:100::/64"], ports: [80, 443] }',
  ),
});

/** The site with one more VIP (web-new), to install over the first as an apply would. */
const SITE_MORE = withFiles(SITE, {
  'services/web/new.yaml': yaml(`vip: ${NEW}`, 'backend:', '  group: app', '  port: 8080'),
});

/** The router's side: learns whatever lb1 exports; retries quickly so restarts are short. */
const PEER_CONF = `router id ${PEER_ADDR};
protocol device {
}
protocol bfd {
}
protocol bgp lb1 {
  local ${PEER_ADDR} as 65000;
  neighbor ${NODE_ADDR} as 65001;
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 4;
  bfd on;
  ipv4 { import all; export none; };
}
`;

const run = promisify(execFile);

describe('healthd with real BIRD: anycast announcements follow health', { timeout: 300_000 }, () => {
  let node: NsFixture | undefined;
  let peer: NsFixture | undefined;
  let dir = '';
  let runDir = '';
  let layout: NodeLayout;
  let generations = 0;
  let nodeBird: ChildProcess | undefined;
  let healthd: ChildProcess | undefined;
  const sleepers = new Map<string, ChildProcess>();
  let firstModel: Model;
  let moreModel: Model;
  const backends = new Map<string, string>();
  const logs: string[] = [];
  let curl = '';
  let birdBin = '';

  const healthdYaml = () => join(dir, 'lb1', 'healthd.yaml');
  const controlSocket = () => join(runDir, 'healthd.sock');
  const recent = () => `\nhealthd log (last lines):\n${logs.slice(-15).join('\n')}`;

  const peerRoutes = async (): Promise<Set<string>> => {
    const c = await BirdClient.connect(join(dir, 'peer', 'bird.ctl'), { timeoutMs: 3000 });
    try {
      return new Set((await c.showRoute(undefined, { protocol: 'lb1' })).map((r) => r.prefix));
    } finally {
      c.close();
    }
  };
  const peerSession = async (): Promise<string> => {
    const c = await BirdClient.connect(join(dir, 'peer', 'bird.ctl'), { timeoutMs: 3000 });
    try {
      const p = (await c.showProtocols()).find((x) => x.name === 'lb1');
      return `${p?.state} ${p?.info}`;
    } finally {
      c.close();
    }
  };
  const routesAre = (want: string[], ms: number, what: string) =>
    eventually(
      async () => {
        const have = [...(await peerRoutes())].sort();
        return JSON.stringify(have) === JSON.stringify([...want].sort());
      },
      ms,
      `${what} (peer should have [${want.join(', ')}])${recent()}`,
    );
  const assertRoutes = async (want: string[], what: string) => {
    assert.deepEqual([...(await peerRoutes())].sort(), [...want].sort(), `${what}${recent()}`);
  };

  /** BIRD as its unit starts it: the pre-start steps (the state reset to all disabled), then bird. */
  const startNodeBird = (): ChildProcess => {
    const spec = birdService.unit!.spec(layout);
    for (const step of spec.preStart ?? []) execFileSync(step.command, [...step.args]);
    const child = node!.spawn(birdBin, spec.args);
    nodeBird = child;
    return child;
  };
  /** Writes lb1's files as a new generation and points `<etc>` at it (apply's switch). */
  const install = (model: Model): void => {
    const gen = join(dir, 'generations', String(++generations));
    mkdirSync(join(gen, 'bird'), { recursive: true });
    const lb1 = model.site.nodes.find((n) => n.name === 'lb1')!;
    for (const f of renderNode(model, lb1, layout, 'test')) {
      if (f.path.startsWith('bird/')) writeFileSync(join(gen, f.path), f.content);
      // As rendered, with a shorter hold-down so that each recovery takes seconds, not tens.
      if (f.path === 'healthd.yaml') {
        assert.match(f.content, /hold_down_ms: 5000/);
        writeFileSync(healthdYaml(), f.content.replaceAll('hold_down_ms: 5000', 'hold_down_ms: 1500'));
      }
    }
    symlinkSync(gen, `${layout.etc}.new`);
    renameSync(`${layout.etc}.new`, layout.etc);
  };
  /** The node BIRD's VIP protocols and their states. */
  const vipProtocols = async (): Promise<Map<string, string>> => {
    const c = await BirdClient.connect(join(runDir, 'bird.ctl'), { timeoutMs: 3000 });
    try {
      const listed = await c.showProtocols();
      return new Map(listed.filter((p) => /^vip6?_/.test(p.name)).map((p) => [p.name, p.state]));
    } finally {
      c.close();
    }
  };
  const liveState = () => parseVipState(readFileSync(birdPaths(layout).state, 'utf8'));
  /** apply's BIRD action (services/bird.ts) with the node's real hooks: reload, configure, reconcile. */
  const applyBird = () =>
    birdService.act({
      layout,
      control: { kind: 'supervisor' } as ProcessControl, // BIRD runs: never asked to start it
      hooks: nodeHooks({
        layout,
        control: { kind: 'supervisor' } as ProcessControl,
        log: () => {},
        hookDir: join(dir, 'hooks'),
        healthd: healthdRequest,
        anycast: true,
      }),
      flags: { manageAddresses: false, manageFirewall: false, anycast: true },
      log: () => {},
    });
  const startSleeper = (instance: string): void => {
    const child = node!.spawn('sleep', ['600']);
    sleepers.set(instance, child);
    writeFileSync(join(runDir, 'haproxy', `${instance}.pid`), `${child.pid}\n`);
  };
  const backendMode = (instance: string, mode: 'ok' | 'fail503'): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createConnection({ path: backends.get(instance)! });
      s.setEncoding('utf8');
      s.once('connect', () => s.write(`mode ${mode}\n`));
      s.once('data', (text: string) => {
        s.destroy();
        if (text.includes('"ok":true')) resolve();
        else reject(new Error(`backend ${instance}: ${text}`));
      });
      s.once('error', reject);
    });
  const status = async (): Promise<HealthdStatus> => {
    const r = await healthdControl(controlSocket(), { cmd: 'status' }, 5000);
    if (!r.ok) assert.fail(JSON.stringify(r));
    return r.status;
  };
  const cli = (...args: string[]) =>
    run(process.execPath, [join(ROOT, 'bin/intentlb.mjs'), 'healthd', ...args, '--config', healthdYaml()], {
      cwd: ROOT,
      timeout: 60_000,
    });

  before(async () => {
    requireRoot();
    birdBin = requireTool('bird');
    curl = requireTool('curl');
    requireTool('ip');
    const compiled = await compileFiles(SITE);
    assert.ok(
      compiled.model,
      compiled.all.map((d) => `${d.file}:${d.line} ${d.code} ${d.message}`).join('\n'),
    );
    const model = compiled.model;
    const more = await compileFiles(SITE_MORE);
    assert.ok(more.model, more.all.map((d) => `${d.file}:${d.line} ${d.code} ${d.message}`).join('\n'));
    moreModel = more.model;
    firstModel = model;

    node = new NsFixture([WWW, PG]);
    peer = new NsFixture([]);
    dir = node.dir;
    runDir = node.mkdir('run');
    mkdirSync(join(runDir, 'haproxy'), { recursive: true });
    node.mkdir('lb1');
    node.mkdir('peer');

    layout = { etc: join(dir, 'etc'), run: runDir, state: join(dir, 'state') };
    install(model);
    writeFileSync(join(dir, 'peer', 'bird.conf'), PEER_CONF);

    // The link between the node and its router, made inside the namespaces only.
    const [a, b] = [`h${node.ns.slice(-6)}a`, `h${node.ns.slice(-6)}b`];
    ip('-n', node.ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', peer.ns);
    ip('-n', node.ns, 'addr', 'add', `${NODE_ADDR}/24`, 'dev', a);
    ip('-n', peer.ns, 'addr', 'add', `${PEER_ADDR}/24`, 'dev', b);
    ip('-n', node.ns, 'link', 'set', a, 'up');
    ip('-n', peer.ns, 'link', 'set', b, 'up');

    backends.set('web-www', await node.backend('www', [`http:${WWW}:8999`]));
    backends.set('db-pg', await node.backend('pg', [`http:${PG}:8999`]));
    startSleeper('web-www');
    startSleeper('db-pg');
    startNodeBird();
    peer.spawn(birdBin, [
      '-f',
      '-c',
      join(dir, 'peer', 'bird.conf'),
      '-s',
      join(dir, 'peer', 'bird.ctl'),
      '-P',
      join(dir, 'peer', 'bird.pid'),
    ]);
    healthd = node.spawn(process.execPath, [
      join(ROOT, 'bin/intentlb.mjs'),
      'healthd',
      '--config',
      healthdYaml(),
    ]);
    const lines = createInterface({ input: healthd.stdout! });
    lines.on('line', (l) => logs.push(l));
    await eventually(
      () => logs.some((l) => l.includes('"msg":"started"')),
      30_000,
      `healthd started${recent()}`,
    );
  });

  after(async () => {
    await node?.close();
    await peer?.close();
  });

  it('the peer learns both VIPs once their checks rise', async () => {
    await routesAre([WWW_ROUTE, PG_ROUTE], 60_000, 'announced after rise');
    assert.match(await peerSession(), /^up Established/);
    const s = await status();
    assert.deepEqual(
      s.vips.map((v) => [v.name, v.health, v.announced, v.bird]),
      [
        ['db-pg', 'up', true, 'announced'],
        ['web-www', 'up', true, 'announced'],
      ],
    );
  });

  it('failing checks withdraw the VIP (the other stays); recovery announces it after the hold-down', async () => {
    await backendMode('web-www', 'fail503');
    await routesAre([PG_ROUTE], 15_000, 'www withdrawn after fall');
    await backendMode('web-www', 'ok');
    await routesAre([WWW_ROUTE, PG_ROUTE], 30_000, 'www back after rise and hold-down');
  });

  it('the watched process dying withdraws at once, though the checks still pass', async (t) => {
    const sleeper = sleepers.get('web-www')!;
    const gone = new Promise((r) => sleeper.once('exit', r));
    const t0 = performance.now();
    sleeper.kill('SIGKILL');
    await gone;
    await routesAre([PG_ROUTE], 5000, 'www withdrawn on process exit');
    const ms = Math.round(performance.now() - t0);
    assert.ok(
      logs.some((l) => l.includes('"vip":"web-www"') && l.includes('"reason":"process-exit"')),
      `withdrawn for the process exit${recent()}`,
    );
    // The backend never failed a check: only the pid watch can have withdrawn it.
    assert.ok(ms < 5000, `withdrawn ${ms} ms after the kill`);
    t.diagnostic(`route gone at the peer ${ms} ms after the kill (polled every 100 ms)`);
    startSleeper('web-www');
    await routesAre([WWW_ROUTE, PG_ROUTE], 40_000, 'www back with a new process');
  });

  it('drain withdraws every VIP with BGP still up, answered once done; undrain brings them back', async () => {
    const drained = await cli('drain');
    assert.match(
      drained.stdout,
      /^drained 2 VIP\(s\): withdrawn and confirmed after \d+ ms, network converged/,
    );
    await assertRoutes([], 'nothing announced when drain returns');
    assert.match(await peerSession(), /^up Established/, 'the BGP session stays up');
    assert.equal((await status()).draining, true);
    const undrained = await cli('undrain');
    assert.match(undrained.stdout, /^undrained/);
    await routesAre([WWW_ROUTE, PG_ROUTE], 30_000, 'back after undrain');
  });

  it('hold withdraws one VIP and answers only once the peer has lost it; release brings it back', async (t) => {
    const held = await holdVip(controlSocket(), 'web-www', 30_000);
    assert.deepEqual([held.cmd, held.vips, held.converged], ['hold', ['web-www'], true]);
    assert.ok(held.waited_ms >= 500, `converge_ms waited (${held.waited_ms} ms)`);
    t.diagnostic(`hold answered after ${held.waited_ms} ms (converge_ms 500)`);
    await assertRoutes([PG_ROUTE], 'www gone at the peer when hold returns');
    const s = await status();
    assert.equal(s.vips.find((v) => v.name === 'web-www')?.held, true);
    // While held, the instance may restart: a new process does not bring the VIP back.
    sleepers.get('web-www')!.kill('SIGKILL');
    startSleeper('web-www');
    await new Promise((r) => setTimeout(r, 2500));
    await assertRoutes([PG_ROUTE], 'still held');
    const released = performance.now();
    await releaseVip(controlSocket(), 'web-www', 5000);
    await routesAre([WWW_ROUTE, PG_ROUTE], 30_000, 'www back after release');
    t.diagnostic(
      `announced again ${Math.round(performance.now() - released)} ms after release (rise 3 × 500 ms)`,
    );
  });

  it('birdc configure keeps every announced VIP up: the state file holds what healthd confirmed', async (t) => {
    assert.deepEqual(
      liveState(),
      new Map([
        ['vip_db_pg', false],
        ['vip_web_www', false],
      ]),
      'healthd wrote both enabled',
    );
    const c = await BirdClient.connect(join(runDir, 'bird.ctl'));
    const downs: string[] = [];
    try {
      // Pipelined: the read-back sees the configure's effect before healthd could react (with a
      // plain `disabled;` BIRD shows the protocols down or flushing here).
      const [configured, listed] = await c.commands(['configure', 'show protocols']);
      assert.ok(configured?.ok, `configure: ${configured?.code}`);
      const text = listed?.lines.map((l) => l.text).join('\n') ?? '';
      assert.match(text, /vip_web_www\s+Static\s+master4\s+up/, text);
      assert.match(text, /vip_db_pg\s+Static\s+master4\s+up/, text);
      // And for the next two seconds (healthd polls every second): never down.
      const until = performance.now() + 2000;
      while (performance.now() < until) {
        for (const p of await c.showProtocols()) {
          if (p.name.startsWith('vip_') && p.state !== 'up') downs.push(`${p.name} ${p.state}`);
        }
      }
    } finally {
      c.close();
    }
    assert.deepEqual(downs, [], 'a VIP protocol went down after configure');
    await assertRoutes([WWW_ROUTE, PG_ROUTE], 'announced throughout');
    assert.ok(!logs.some((l) => l.includes('bird state differs')), `no drift to repair${recent()}`);

    // A protocol disabled behind healthd's back is still noticed and repaired (the poll's drift).
    const d = await BirdClient.connect(join(runDir, 'bird.ctl'));
    const disabledAt = performance.now();
    try {
      assert.equal((await d.disableProtocol('vip_web_www')).ok, true);
    } finally {
      d.close();
    }
    await eventually(
      async () => [...(await vipProtocols()).values()].every((s) => s === 'up'),
      20_000,
      `re-enabled after a manual disable${recent()}`,
    );
    t.diagnostic(
      `re-enabled ${Math.round(performance.now() - disabledAt)} ms after a manual disable (poll_ms 1000)`,
    );
    assert.ok(
      logs.some((l) => l.includes('bird state differs')),
      `drift noticed${recent()}`,
    );
  });

  it("apply's BIRD action adding a VIP keeps the announced ones up through the configure, and removing it too", async (t) => {
    // Fails on a plain `disabled;`: the configure restarts vip_web_www and vip_db_pg disabled.
    const watch = { on: true, polls: 0, downs: [] as string[] };
    const poller = (async () => {
      const c = await BirdClient.connect(join(runDir, 'bird.ctl'), { timeoutMs: 5000 });
      try {
        while (watch.on) {
          for (const [name, state] of await c
            .showProtocols()
            .then((l) => new Map(l.map((p) => [p.name, p.state])))) {
            if ((name === 'vip_web_www' || name === 'vip_db_pg') && state !== 'up')
              watch.downs.push(`${name} ${state}`);
          }
          watch.polls++;
        }
      } finally {
        c.close();
      }
    })();
    try {
      install(moreModel);
      const began = performance.now();
      await applyBird();
      t.diagnostic(`adding web-new: BIRD action ${Math.round(performance.now() - began)} ms`);
      const protocols = await vipProtocols();
      assert.equal(
        protocols.get('vip_web_new'),
        'down',
        'the new VIP starts disabled: nothing checked it yet',
      );
      assert.equal(liveState().get('vip_web_new'), true);
      await new Promise((r) => setTimeout(r, 1500)); // healthd's poll and reconcile come and go
      await assertRoutes([WWW_ROUTE, PG_ROUTE], 'the new VIP is not announced (no backend), the others are');

      install(firstModel);
      await applyBird();
      assert.equal((await vipProtocols()).has('vip_web_new'), false);
      assert.deepEqual([...liveState().keys()].sort(), ['vip_db_pg', 'vip_web_www']);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      watch.on = false;
      await poller;
    }
    t.diagnostic(`${watch.polls} show protocols polls through both changes`);
    assert.ok(watch.polls > 20, `polled ${watch.polls} times`);
    assert.deepEqual(watch.downs, [], 'an announced VIP went down during the change');
    await assertRoutes([WWW_ROUTE, PG_ROUTE], 'still announced');
  });

  it('a BIRD restart starts with every VIP disabled, whatever healthd had confirmed', async () => {
    // healthd frozen, so that what BIRD starts with is BIRD's own, not healthd's reconcile.
    const h = healthd!;
    assert.equal(liveState().get('vip_web_www'), false);
    const old = nodeBird!;
    const gone = new Promise((r) => old.once('exit', r));
    h.kill('SIGSTOP');
    try {
      old.kill('SIGKILL');
      await gone;
      startNodeBird();
      await eventually(
        async () => {
          try {
            return (await vipProtocols()).size === 2;
          } catch {
            return false; // not listening yet
          }
        },
        10_000,
        'BIRD back',
      );
      assert.deepEqual(
        [...(await vipProtocols())],
        [
          ['vip_db_pg', 'down'],
          ['vip_web_www', 'down'],
        ],
      );
      assert.deepEqual([...liveState().values()], [true, true], 'the state file was reset');
    } finally {
      h.kill('SIGCONT');
    }
    await routesAre([WWW_ROUTE, PG_ROUTE], 60_000, 'announced again once healthd reconciled');
  });

  it("the node's BIRD killed and restarted: healthd reconnects and announces again", async () => {
    const old = nodeBird!;
    const gone = new Promise((r) => old.once('exit', r));
    old.kill('SIGKILL');
    await gone;
    await routesAre([], 30_000, 'routes gone with the node BIRD');
    startNodeBird();
    await routesAre([WWW_ROUTE, PG_ROUTE], 60_000, 'announced again after the restart');
    const s = await status();
    assert.equal(s.bird.connected, true);
    assert.ok(s.bird.reconciles >= 3, `reconciles: ${s.bird.reconciles}`);
  });

  it('metrics and status on the listen address', async () => {
    const metrics = node!.exec(curl, ['-sf', '--max-time', '5', `http://${NODE_ADDR}:9300/metrics`]);
    for (const line of [
      'intentlb_healthd_vip_announced{vip="web-www"} 1',
      'intentlb_healthd_vip_state{vip="db-pg",state="up"} 1',
      'intentlb_healthd_bird_connected 1',
      'intentlb_healthd_bird_reconciles_total{reason="drift"}',
      'intentlb_healthd_transitions_total{vip="web-www",to="down"}',
      'intentlb_healthd_bird_operations_total{result="ok"}',
      'intentlb_healthd_check_duration_seconds_count{result="ok"}',
      'intentlb_healthd_checks_total{vip="web-www",result="ok"}',
    ]) {
      assert.ok(metrics.includes(line), `${line} in /metrics`);
    }
    // The node's session with the lab router, as read from the real BIRD's `show protocols` at
    // each poll (1 s): after the restarts above it may still be coming back.
    const established = /^intentlb_healthd_bgp_session_up\{peer="bgp_rr1"\} 1$/m;
    let sessions = metrics;
    for (let i = 0; i < 30 && !established.test(sessions); i++) {
      await new Promise((r) => setTimeout(r, 500));
      sessions = node!.exec(curl, ['-sf', '--max-time', '5', `http://${NODE_ADDR}:9300/metrics`]);
    }
    assert.match(sessions, established);
    const s = JSON.parse(
      node!.exec(curl, ['-sf', '--max-time', '5', `http://${NODE_ADDR}:9300/status`]),
    ) as HealthdStatus;
    assert.equal(s.node, 'lb1');
    assert.deepEqual(
      s.vips.map((v) => [v.name, v.announced]),
      [
        ['db-pg', true],
        ['web-www', true],
      ],
    );
    const shown = await cli('status');
    assert.match(shown.stdout, /^web-www +up +yes +announced/m);
  });

  it('SIGHUP re-reads healthd.yaml without disturbing what is announced', async () => {
    const text = readFileSync(healthdYaml(), 'utf8');
    writeFileSync(healthdYaml(), text.replaceAll('timeout_ms: 400', 'timeout_ms: 450'));
    healthd!.kill('SIGHUP');
    await eventually(
      () =>
        logs.some(
          (l) => l.includes('"msg":"configuration reloaded"') && l.includes('"changed":["db-pg","web-www"]'),
        ),
      10_000,
      `reloaded${recent()}`,
    );
    await assertRoutes([WWW_ROUTE, PG_ROUTE], 'still announced after the reload');
  });

  it('SIGTERM withdraws every VIP before healthd exits; BIRD and the session stay', async () => {
    const h = healthd!;
    const exited = new Promise<number | null>((r) => h.once('exit', (code) => r(code)));
    h.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'late'>((r) => setTimeout(() => r('late'), 20_000)),
    ]);
    assert.equal(code, 0, `healthd exit${recent()}`);
    await assertRoutes([], 'nothing announced once healthd is gone');
    assert.match(await peerSession(), /^up Established/);
    assert.ok(
      logs.some((l) => l.includes('"msg":"withdrawn"') && l.includes('"converged":true')),
      recent(),
    );
  });
});
