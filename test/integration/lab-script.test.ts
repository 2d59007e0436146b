import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SupervisorControl } from '../../src/deploy/control.ts';
import { openStore } from '../../src/deploy/store.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import type { LabStatus } from '../../src/lab/status.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { cleanupLab, cli, curlIn, eventually, inNs, namespacesWith } from '../lab/lab-client.ts';

// Script failover in the lab (ha.mode: script): healthd runs the platform's examples/failover/ipaddr
// as <etc>/failover.d/ipaddr on each node. lb1 (first in site.yaml) holds the VIP, lb2 stands by
// while lb1's /status says it serves it. When lb1's backends fail (a blackhole route in lb1 only)
// or lb1's healthd stops, lb1 demotes (`ip addr del`), lb2 promotes (`ip addr add` + `arping -U`)
// and the router's ARP entry, so the client's traffic, follows. The failover window is measured
// with the load of bench/lab/failover.ts and printed (docs/benchmarks.md keeps the figures).
const SITE = new URL('./sites/script/', import.meta.url).pathname;
const IPADDR = new URL('../../examples/failover/ipaddr', import.meta.url).pathname;
const LOADER = new URL('../../bench/lab/failover-loader.mjs', import.meta.url).pathname;
const CHECK_TCP = '/usr/lib/nagios/plugins/check_tcp';
const PREFIX = 'ilbst-';
const DIR = defaultLabDir(PREFIX);
const VIP = '198.18.100.10';
const LB2 = '198.18.0.12';

type Row = [start: number, end: number, ok: number, detail: string];

describe('script failover (ipaddr + gratuitous ARP) in the lab', { timeout: 300_000 }, () => {
  let state: LabState;
  const ns = (host: string): string => state.topology.hosts.find((h) => h.name === host)!.ns;
  const root = (node: string): string => state.nodes.find((n) => n.name === node)!.root;
  const holders = async (): Promise<string> => {
    const r = await cli(['lab', 'status', '--prefix', PREFIX, '--format', 'json']);
    const s = JSON.parse(r.stdout) as LabStatus;
    return (s.routes!.find((x) => x.vip === VIP)?.holders ?? []).join();
  };
  /** Load on the VIP while `event` runs; the failed requests and who served the others. */
  const underLoad = async (event: () => Promise<void>, durationMs = 8000) => {
    const load = inNs(
      ns('client'),
      [process.execPath, LOADER, VIP, '80', '4', String(durationMs), '1000'],
      60_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    await event();
    const r = await load;
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'))!;
    const rows = (JSON.parse(line) as { results: Row[] }).results;
    const failed = rows.filter((x) => x[2] === 0).map((x) => x[0]);
    const window = failed.length === 0 ? 0 : Math.max(...failed) - Math.min(...failed);
    const byLb2 = rows.filter((x) => x[2] !== 0 && x[3] === LB2).map((x) => x[0]);
    const firstLb2 = byLb2.length === 0 ? undefined : Math.min(...byLb2) - t0;
    return { requests: rows.length, failed: failed.length, window, servedByLb2: byLb2.length, firstLb2 };
  };

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'nft', 'curl', 'arping']) requireTool(t);
    // The site's exec check (monitoring-plugins).
    assert.ok(existsSync(CHECK_TCP), `${CHECK_TCP} is missing: install monitoring-plugins`);
    await cleanupLab(PREFIX, DIR);
    const r = await cli(['lab', 'up', SITE, '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    state = readState(DIR)!;
    // The platform installs its script; until then healthd's promote fails and is retried (5 s).
    for (const n of state.nodes) {
      const dir = join(n.root, 'etc/intentlb/failover.d');
      mkdirSync(dir, { recursive: true });
      copyFileSync(IPADDR, join(dir, 'ipaddr'));
    }
  });

  after(async () => {
    await cleanupLab(PREFIX, DIR);
    assert.deepEqual(namespacesWith(PREFIX), []);
  });

  it('lb1 promotes and holds the VIP, lb2 stands by; the client is served through lb1', async () => {
    assert.equal(state.routing, 'onlink');
    const conf = readFileSync(join(root('lb2'), 'etc/intentlb/healthd.yaml'), 'utf8');
    assert.match(conf, /^mode: script$/m);
    assert.match(conf, /failover\.d\/ipaddr\n\s+- promote/);
    await eventually(async () => (await holders()) === 'lb1', 30_000, 'lb1 holds the VIP');
    const answer = await curlIn(ns('client'), [`http://${VIP}/`]);
    assert.equal(answer.status, 200);
  });

  it("lb1's backends fail: the VIP moves to lb2 and the traffic follows; back on recovery", async () => {
    const m = await underLoad(async () => {
      const r = await inNs(ns('lb1'), ['ip', 'route', 'add', 'blackhole', '198.18.10.0/24']);
      assert.equal(r.code, 0, r.stderr);
      await eventually(async () => (await holders()) === 'lb2', 10_000, 'lb2 holds the VIP');
    });
    console.log(`script failover, backends lost on lb1: ${JSON.stringify(m)}`);
    assert.ok(m.servedByLb2 > 100, `lb2 served ${m.servedByLb2}`);
    assert.ok(m.firstLb2 !== undefined && m.firstLb2 < 3000, `first answer by lb2 after ${m.firstLb2} ms`);
    assert.ok(m.window < 3000, `error window ${m.window} ms`);

    const back = await inNs(ns('lb1'), ['ip', 'route', 'del', 'blackhole', '198.18.10.0/24']);
    assert.equal(back.code, 0, back.stderr);
    // lb1 is preferred: it takes the VIP back once its hold-down (2 s) is over.
    await eventually(async () => (await holders()) === 'lb1', 30_000, 'lb1 holds the VIP again');
    assert.equal((await curlIn(ns('client'), [`http://${VIP}/`])).status, 200);
  });

  it("lb1's healthd stops: it demotes on the way out, lb2 promotes; lb1 takes the VIP back when it starts", async () => {
    const lb1 = new SupervisorControl(openStore(root('lb1')).layout);
    const m = await underLoad(async () => {
      await lb1.stop('healthd');
      await eventually(async () => (await holders()) === 'lb2', 10_000, 'lb2 holds the VIP');
    });
    console.log(`script failover, healthd stopped on lb1: ${JSON.stringify(m)}`);
    assert.ok(m.servedByLb2 > 100, `lb2 served ${m.servedByLb2}`);
    assert.ok(m.window < 3000, `error window ${m.window} ms`);

    await lb1.start('healthd');
    await eventually(async () => (await holders()) === 'lb1', 30_000, 'lb1 holds the VIP again');
  });
});
