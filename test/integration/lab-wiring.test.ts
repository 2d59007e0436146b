import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setBackendMode } from '../../src/lab/backend-control.ts';
import { LabError, labUp } from '../../src/lab/lab.ts';
import { addLoopbackAddresses, nsSpawn, stopProcess } from '../../src/lab/netns.ts';
import { isAlive, type LabProcess } from '../../src/lab/processes.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import type { LabStatus } from '../../src/lab/status.ts';
import { inventoryHosts } from '../../src/lab/topology.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { BirdClient } from '../../src/runtime/bird-client.ts';
import { validateSite } from '../../src/validate/index.ts';
import { campus, writeBirdFiles } from '../helpers/campus.ts';
import { waitForLine } from '../helpers/ns-fixture.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import {
  cleanupLab,
  cli,
  curlIn,
  eventually,
  inNs,
  mountsWith,
  namespacesWith,
  probeIn,
} from '../lab/lab-client.ts';

// The lab's own plumbing, without deploying the LB nodes (`lab up --no-deploy`): namespaces and
// links, the router's BGP/BFD/ECMP against the nodes' real generated BIRD configuration, the
// backend hosts, exec, the failure helper, and a clean `down`. The nodes' HAProxy is stood in for
// by a lab backend answering on the VIP, so this runs whether or not the deploy commands work.
const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const PREFIX = 'ilbw-';
const DIR = defaultLabDir(PREFIX);
const CLIENT4 = '198.19.0.2';
const CLIENT6 = '2001:db8:ffff::2';
const VIP4 = '198.18.100.10';
const VIP6 = '2001:db8:100::10';
const VIP_PROTOCOLS = ['vip_web_typo3_www', 'vip6_web_typo3_www'];

describe('intentlb lab: wiring, router, backends', { timeout: 300_000 }, () => {
  let state: LabState;
  const scratch = mkdtempSync(join(tmpdir(), 'intentlb-labw-'));
  const children: ChildProcess[] = [];
  const birds = new Map<string, ChildProcess>();
  const ns = (host: string): string => `${PREFIX}${host}`;
  const status = async (): Promise<LabStatus> => {
    const r = await cli(['lab', 'status', '--prefix', PREFIX, '--format', 'json']);
    return JSON.parse(r.stdout) as LabStatus;
  };
  /** The router kernel's next hops towards a VIP (what forwarding really uses). */
  const kernelVia = async (vip: string): Promise<string[]> => {
    const r = await inNs(ns('router'), ['ip', '-j', vip.includes(':') ? '-6' : '-4', 'route', 'show', vip]);
    const routes = JSON.parse(r.stdout || '[]') as { gateway?: string; nexthops?: { gateway: string }[] }[];
    return routes.flatMap((x) => x.nexthops?.map((h) => h.gateway) ?? (x.gateway ? [x.gateway] : [])).sort();
  };
  const nodeBird = async (node: string): Promise<BirdClient> =>
    BirdClient.connect(join(scratch, `${node}.ctl`), { timeoutMs: 3000 });

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'bird', 'haproxy', 'keepalived', 'nft', 'curl']) requireTool(t);
    await cleanupLab(PREFIX, DIR);
  });

  after(async () => {
    await Promise.all(children.map((c) => stopProcess(c)));
    await cleanupLab(PREFIX, DIR);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lab up --no-deploy brings up every host, the router and the backends; status says so', async () => {
    const r = await cli(['lab', 'up', CAMPUS, '--no-deploy', '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /26 hosts \(router, client, 2 LB nodes, 22 backend hosts\), VIPs routed by bgp/);
    state = readState(DIR)!;
    assert.equal(state.phase, 'up');
    const st = await status();
    assert.ok(st.healthy, JSON.stringify(st, null, 2));
    assert.deepEqual(new Set(namespacesWith(PREFIX)), new Set(state.namespaces));
    assert.equal(st.processes.filter((p) => p.kind === 'backend' && p.alive).length, 22);
    assert.equal(st.processes.filter((p) => p.kind === 'bird' && p.alive).length, 1);
    assert.deepEqual(
      st.bgp?.map((b) => b.name),
      ['rr1_lb1', 'rr1_lb2'],
    );
    const text = await cli(['lab', 'status', '--prefix', PREFIX]);
    assert.equal(text.code, 0);
    assert.match(
      text.stdout,
      /^ {2}lb1 +node +ilbw-lb1 +198\.18\.0\.11\/24 2001:db8::11\/64( {2}\[sshd \d+ alive\])?$/m,
    );
    assert.match(text.stdout, /^ {2}web1 +backend +ilbw-web1 +198\.18\.10\.11\/24 +\[backend \d+ alive\]$/m);
    assert.match(text.stdout, /BGP sessions \(router, BIRD\):\n {2}rr1_lb1 /);
    assert.match(text.stdout, /^all hosts and processes are up$/m);
  });

  it('the router learns a VIP from both nodes (their generated BIRD config), with BFD, as an ECMP route', async () => {
    const model = await campus();
    for (const node of ['lb1', 'lb2']) {
      const conf = writeBirdFiles(scratch, model, node, `${node}.conf`);
      // Ahead of ordinary work, as the lab's router: BFD's 150 ms must survive a busy machine.
      const bird = nsSpawn(ns(node), 'nice', [
        '-n',
        '-10',
        'bird',
        '-f',
        '-c',
        conf,
        '-s',
        join(scratch, `${node}.ctl`),
      ]);
      bird.stdout?.resume();
      bird.stderr?.resume();
      children.push(bird);
      birds.set(node, bird);
    }
    for (const node of ['lb1', 'lb2']) {
      await eventually(async () => existsSync(join(scratch, `${node}.ctl`)), 10_000, `${node} bird`);
      const c = await nodeBird(node);
      try {
        const r = await c.setProtocols(VIP_PROTOCOLS.map((name) => ({ name, enabled: true })));
        assert.ok(r.ok, JSON.stringify(r.results));
      } finally {
        c.close();
      }
    }
    await eventually(
      async () => (await kernelVia(VIP4)).join() === '198.18.0.11,198.18.0.12',
      90_000,
      'ECMP route to the IPv4 VIP via both nodes',
    );
    await eventually(
      async () => (await kernelVia(VIP6)).join() === '2001:db8::11,2001:db8::12',
      10_000,
      'ECMP route to the IPv6 VIP via both nodes (next hops carried over the IPv4 session)',
    );
    const st = await status();
    assert.ok(
      st.bgp?.every((b) => /Established/.test(b.info)),
      JSON.stringify(st.bgp),
    );
    assert.equal((await kernelVia('198.18.100.12')).length, 0, 'a VIP no node announces has no route');
    const router = await BirdClient.connect(state.router.socket);
    try {
      // BGP can be Established a moment before BFD leaves Init on a loaded machine.
      let bfd = '';
      await eventually(
        async () => {
          bfd = (await router.command('show bfd sessions')).lines.map((l) => l.text).join('\n');
          return /198\.18\.0\.11\s+br0\s+Up/.test(bfd) && /198\.18\.0\.12\s+br0\s+Up/.test(bfd);
        },
        10_000,
        'BFD sessions up',
      );
      assert.match(bfd, /198\.18\.0\.11\s+br0\s+Up\s+\S+\s+0\.050\s+0\.150/);
      assert.match(bfd, /198\.18\.0\.12\s+br0\s+Up/);
    } finally {
      router.close();
    }
  });

  it('the client reaches the VIP only through the router, spread over both nodes by L4 hashing', async () => {
    for (const node of ['lb1', 'lb2']) {
      addLoopbackAddresses(ns(node), [VIP4, VIP6]);
      const fake = nsSpawn(ns(node), state.backendCommand[0]!, [
        ...state.backendCommand.slice(1),
        '--host',
        node,
        '--listen',
        `http:${VIP4}:80`,
        '--listen',
        `http:[${VIP6}]:80`,
      ]);
      children.push(fake);
      await waitForLine(fake, (l) => l.includes('"ready"'), 15_000, `stand-in HAProxy on ${node}`);
    }
    const seen = new Set<string>();
    await eventually(
      async () => {
        const body = (await curlIn(ns('client'), [`http://${VIP4}/`])).json<{
          host: string;
          client: string;
        }>();
        assert.equal(body.client, CLIENT4, 'the node sees the client itself: routed, not proxied');
        seen.add(body.host);
        return seen.size === 2;
      },
      30_000,
      'both nodes answer the anycast VIP (new connections hash over both paths)',
    );
    const v6 = (await curlIn(ns('client'), ['-g', `http://[${VIP6}]/`])).json<{
      host: string;
      client: string;
    }>();
    assert.match(v6.host, /^lb[12]$/);
    assert.equal(v6.client, CLIENT6);
    const routes = JSON.parse((await inNs(ns('client'), ['ip', '-j', 'route'])).stdout) as { dst: string }[];
    assert.deepEqual(routes.map((r) => r.dst).sort(), ['198.19.0.0/24', 'default']);
  });

  it('a withdrawn VIP leaves that node; BFD takes a dead node out in well under the hold time', async () => {
    const lb1 = await nodeBird('lb1');
    try {
      await lb1.setProtocols(VIP_PROTOCOLS.map((name) => ({ name, enabled: false })));
    } finally {
      lb1.close();
    }
    await eventually(async () => (await kernelVia(VIP4)).join() === '198.18.0.12', 30_000, 'lb1 withdrawn');
    let streak = 0;
    await eventually(
      async () => {
        const host = (await curlIn(ns('client'), [`http://${VIP4}/`])).json<{ host: string }>().host;
        streak = host === 'lb2' ? streak + 1 : 0;
        return streak >= 6;
      },
      30_000,
      'only lb2 answers while lb1 does not announce',
    );
    const again = await nodeBird('lb1');
    try {
      await again.setProtocols(VIP_PROTOCOLS.map((name) => ({ name, enabled: true })));
    } finally {
      again.close();
    }
    // On a starved machine a BFD blip (3 x 50 ms) can take a node's session down, and the node's
    // BIRD then waits out its `error wait time` (60 s by default) before it talks again.
    await eventually(async () => (await kernelVia(VIP4)).length === 2, 90_000, 'lb1 back');

    const t0 = Date.now();
    birds.get('lb2')!.kill('SIGKILL');
    await eventually(async () => (await kernelVia(VIP4)).join() === '198.18.0.11', 9000, 'lb2 gone');
    const ms = Date.now() - t0;
    assert.ok(ms < 3000, `dead node removed after ${ms} ms (BFD 3 x 50 ms; BGP hold time alone is 9 s)`);
  });

  it('nodes reach the backend hosts, which speak what their checks expect', async () => {
    const web = (await curlIn(ns('lb1'), ['http://198.18.10.11:8080/x'])).json<{
      host: string;
      client: string;
    }>();
    assert.deepEqual([web.host, web.client], ['web1', '198.18.0.11']);
    assert.match(await probeIn(ns('lb2'), { host: '198.18.11.26', port: 25, until: '\r\n' }), /^220 mx2 /);
    assert.match(await probeIn(ns('lb1'), { host: '198.18.11.25', port: 143, until: '\r\n' }), /^\* OK /);
    assert.match(
      await probeIn(ns('lb1'), { host: '198.18.14.31', port: 6379, sendHex: '50494e470d0a', until: '\r\n' }),
      /^\+PONG/,
    );
    assert.match(
      await probeIn(ns('lb1'), { host: '198.18.13.22', port: 3128, until: '\n' }),
      /^ezproxy2 3128 /,
    );
  });

  it("setBackendMode makes a host fail and recover (the tests' failure switch)", async () => {
    try {
      await setBackendMode(DIR, 'web2', 'fail503');
      assert.equal((await curlIn(ns('lb1'), ['http://198.18.10.12:8080/'])).status, 503);
      const r = await cli(['lab', 'mode', '--prefix', PREFIX, 'web2', 'refuse']);
      assert.equal(r.code, 0, r.stderr);
      assert.notEqual(
        (await inNs(ns('lb1'), ['curl', '-s', '--max-time', '2', 'http://198.18.10.12:8080/'])).code,
        0,
      );
    } finally {
      await setBackendMode(DIR, 'web2', 'ok');
    }
    assert.equal((await curlIn(ns('lb1'), ['http://198.18.10.12:8080/'])).status, 200);
    await assert.rejects(setBackendMode(DIR, 'web2', 'sideways'), /unknown mode/);
  });

  it('lab exec runs a command in a host namespace and passes its exit code on', async () => {
    const r = await cli([
      'lab',
      'exec',
      '--prefix',
      PREFIX,
      'web1',
      '--',
      'ip',
      '-br',
      'addr',
      'show',
      'eth0',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /198\.18\.10\.11\/24/);
    assert.equal((await cli(['lab', 'exec', '--prefix', PREFIX, 'client', '--', 'false'])).code, 1);
    const bad = await cli(['lab', 'exec', '--prefix', PREFIX, 'nosuch', '--', 'true']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no host "nosuch" in the lab \(hosts: router, client, lb1/);
  });

  it('a second lab up is refused and leaves the running lab alone', async () => {
    const r = await cli(['lab', 'up', CAMPUS, '--no-deploy', '--prefix', PREFIX]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a lab is already up with prefix "ilbw-"/);
    assert.ok((await status()).healthy);
  });

  it('lab down removes every namespace, process, mount and file; a second down is a no-op', async () => {
    for (const c of children) await stopProcess(c);
    const recorded = readState(DIR)!.processes;
    const r = await cli(['lab', 'down', '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(namespacesWith(PREFIX), []);
    assert.deepEqual(
      recorded.filter(isAlive).map((p) => `${p.kind} ${p.pid}`),
      [],
    );
    assert.deepEqual(mountsWith(`/run/netns/${PREFIX}`), []);
    assert.deepEqual(mountsWith(DIR), []);
    assert.equal(existsSync(DIR), false);
    const again = await cli(['lab', 'down', '--prefix', PREFIX]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to do/);
  });

  it('a failed up (here: the deploy step) removes everything it had made', async () => {
    const loaded = load(diskFs(CAMPUS));
    const site = {
      dir: CAMPUS,
      model: await campus(),
      inventory: inventoryHosts(validateSite(loaded.value).value!.groups),
    };
    let started: LabProcess[] = [];
    await assert.rejects(
      labUp(site, {
        prefix: PREFIX,
        dir: DIR,
        staticVips: true,
        deploy: true,
        progress: () => {},
        deployNode: async (d) => {
          // Fail once the router, every backend host and every node's sshd run, so there is
          // something of each kind to clean up.
          await eventually(
            async () => {
              const st = readState(DIR)!;
              const kinds = st.processes.map((p) => p.kind);
              return (
                kinds.filter((k) => k === 'bird').length === 1 &&
                kinds.filter((k) => k === 'backend').length === st.backends.length &&
                kinds.filter((k) => k === 'sshd').length === st.nodes.length
              );
            },
            30_000,
            'router, backends and sshd',
          );
          started = readState(DIR)!.processes;
          throw new LabError(`no deploy for ${d.node} in this test`);
        },
      }),
      /no deploy for lb1 in this test/,
    );
    assert.ok(started.length > 0, 'the router and backends had started');
    assert.deepEqual(namespacesWith(PREFIX), []);
    assert.deepEqual(
      started.filter(isAlive).map((p) => `${p.kind} ${p.pid}`),
      [],
    );
    assert.equal(existsSync(DIR), false);
  });
});
