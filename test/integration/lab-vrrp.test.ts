import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SupervisorControl } from '../../src/deploy/control.ts';
import { rootLayout } from '../../src/deploy/store.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import type { LabStatus } from '../../src/lab/status.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { vrrpVariant } from '../helpers/vrrp-site.ts';
import { cleanupLab, cli, curlIn, eventually, inNs, namespacesWith } from '../lab/lab-client.ts';

// examples/campus with keepalived VRRP instead of anycast, in the lab: `apply` deploys keepalived
// beside HAProxy (which binds the VIPs it does not hold, `transparent`), the first node holds
// every VIP, a lost node's VIPs move to the other within a few adverts, and the first node takes
// them back when its link returns. bench/lab/failover.ts measures the window against anycast.
const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const LOADER = new URL('../../bench/lab/failover-loader.mjs', import.meta.url).pathname;
const PREFIX = 'ilbk-';
const DIR = defaultLabDir(PREFIX);
const WIKI = '198.18.100.12';

describe('keepalived VRRP in the lab', { timeout: 300_000 }, () => {
  let state: LabState;
  let site: string;
  const scratch = mkdtempSync(join(tmpdir(), 'intentlb-vrrp-'));
  const ns = (host: string): string => state.topology.hosts.find((h) => h.name === host)!.ns;
  const status = async (): Promise<LabStatus> => {
    const r = await cli(['lab', 'status', '--prefix', PREFIX, '--format', 'json']);
    return JSON.parse(r.stdout) as LabStatus;
  };
  /** VIP → the nodes holding it, for every VIP of the site. */
  const holders = async (): Promise<Map<string, string>> =>
    new Map((await status()).routes!.map((r) => [r.vip, (r.holders ?? []).join()]));
  const allHeldBy = async (node: string): Promise<boolean> =>
    [...(await holders()).values()].every((h) => h === node);

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'keepalived', 'nft', 'curl']) requireTool(t);
    await cleanupLab(PREFIX, DIR);
    site = vrrpVariant(CAMPUS, join(scratch, 'campus-vrrp'));
    const r = await cli(['lab', 'up', site, '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    state = readState(DIR)!;
  });

  after(async () => {
    try {
      await cleanupLab(PREFIX, DIR);
      assert.deepEqual(namespacesWith(PREFIX), []);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('apply runs keepalived; the first node holds every VIP, IPv6 too, and serves it', async () => {
    assert.equal(state.routing, 'onlink');
    const conf = readFileSync(join(state.nodes[0]!.root, 'etc/intentlb/keepalived/keepalived.conf'), 'utf8');
    assert.match(conf, /advert_int 1\n/);
    await eventually(() => allHeldBy('lb1'), 30_000, 'lb1 holds every VIP');
    assert.ok((await holders()).has('2001:db8:100::10'));
    const wiki = await curlIn(ns('client'), [`http://${WIKI}/`]);
    assert.equal(wiki.status, 200);
  });

  it("the first node's link down moves every VIP to the other node within seconds; it takes them back on link up", async () => {
    const loader = inNs(ns('client'), [process.execPath, LOADER, WIKI, '80', '4', '8000', '1000'], 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    const down = await cli(['lab', 'link', 'lb1', 'down', '--prefix', PREFIX]);
    assert.equal(down.code, 0, down.stderr);
    await eventually(() => allHeldBy('lb2'), 10_000, 'lb2 holds every VIP');
    const moved = Date.now() - t0;
    const r = await loader;
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'))!;
    const results = (JSON.parse(line) as { results: [number, number, number, string][] }).results;
    const failed = results.filter((x) => x[2] === 0).map((x) => x[0]);
    const served = results.filter((x) => x[2] !== 0 && x[3] === '198.18.0.12').length;
    // advert_int 1: the backup waits 3 adverts plus its skew before it takes over.
    assert.ok(moved < 6000, `VIPs moved after ${moved} ms`);
    assert.ok(failed.length > 0, 'VRRP loses the requests sent while no node answers');
    const window = Math.max(...failed) - Math.min(...failed);
    const shown = results.filter((x) => x[2] === 0).map((x) => `${(x[0] - t0).toFixed(0)}ms ${x[3]}`);
    const timeline = `${shown.length} failed: ${shown.slice(0, 5).join(', ')} … ${shown.slice(-5).join(', ')}`;
    assert.ok(
      window < 5000,
      `error window ${window.toFixed(0)} ms; failures (send time after link down): ${timeline}`,
    );
    assert.ok(served > 100, `lb2 served after the takeover (${served})`);

    const up = await cli(['lab', 'link', 'lb1', 'up', '--prefix', PREFIX]);
    assert.equal(up.code, 0, up.stderr);
    // Preemption: the higher priority takes the VIPs back once its HAProxy can serve again.
    await eventually(() => allHeldBy('lb1'), 60_000, 'lb1 holds every VIP again');
    assert.equal((await curlIn(ns('client'), [`http://${WIKI}/`])).status, 200);
  });

  it('keepalived stopped by hand on the backup: apply starts it again though no file changed', async () => {
    const lb2 = new SupervisorControl(rootLayout(state.nodes[1]!.root));
    await lb2.stop('keepalived');
    assert.ok(!(await lb2.running()).has('keepalived'));
    const r = await cli(['lab', 'apply', site, '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await lb2.running()).has('keepalived'), 'keepalived runs again on lb2');
    assert.ok(await allHeldBy('lb1'), 'the master kept every VIP');
  });
});
