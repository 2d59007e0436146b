/**
 * An LB node under a real booted systemd (issue 18, item 1). The lab (`lab up --no-deploy`) wires
 * the router (BIRD), two backends and a client; lb1's namespace is then booted as a Debian system
 * (scripts/build-node-rootfs.sh, `systemd-nspawn --boot`: test/helpers/systemd-container.ts) and
 * `intentlb apply` runs inside it, where systemd is PID 1, so apply drives the units with
 * `systemctl`. Proven here, each against the real systemd and the lab router's BGP view:
 *
 * - a deploy writes, enables and starts every unit, and the router learns every VIP;
 * - a configuration change reloads an instance hitlessly (apply's reload and `systemctl reload`),
 *   under load from the client, without systemd restarting it;
 * - a removed VIP's instance stops softly (`KillSignal=SIGUSR1`): apply returns, the unit stays
 *   `deactivating` with the open connection held, and ends once that connection is gone;
 * - a reboot (power-off, a namespace that lost its VIPs and ruleset as a rebooted host does, boot)
 *   comes back announcing exactly the intended VIPs;
 * - healthd, BIRD, keepalived and HAProxy units come back when their main process is killed.
 *
 * Run: `node scripts/run-tests.mjs --interop systemd` (root; docs/operations.md).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SystemdNode } from '../helpers/systemd-container.ts';
import { SystemdLab } from '../helpers/systemd-lab.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { eventually, inNs, namespacesWith } from '../lab/lab-client.ts';

const SITE = new URL('../integration/sites/systemd/', import.meta.url).pathname;
const LOADER = new URL('../../bench/lab/failover-loader.mjs', import.meta.url).pathname;
const PREFIX = 'ilbd-';
const ALPHA = '198.18.50.10';
const LONG = '198.18.50.20';
const LB1 = '198.18.0.11';
/** Where the site lives inside the container (apply reads it there; the test edits it). */
const SITE_IN = '/srv/site';

describe('an LB node under a booted systemd (systemd-nspawn in the lab)', { timeout: 900_000 }, () => {
  const lab = new SystemdLab({ site: SITE, prefix: PREFIX, siteIn: SITE_IN });
  const timings = lab.timings;
  const ns = (host: string): string => lab.ns(host);
  const sys = (): SystemdNode => lab.node!;
  const siteFile = (path: string): string => join(sys().merged, SITE_IN.slice(1), path);
  const apply = (): Promise<string> => lab.apply();
  const systemctl = async (...args: string[]): Promise<string> =>
    (await sys().exec(['systemctl', ...args])).stdout.trim();
  /** The VIPs the lab router has a BGP route for, each with its next hops. */
  const routerRoutes = async (): Promise<string[]> => {
    const r = await inNs(ns('router'), ['birdc', '-s', lab.state!.router.socket, 'show', 'route', 'all']);
    const routes: string[] = [];
    for (const m of r.stdout.matchAll(/^(\S+)\s+unicast \[(\S+)[^\n]*\n\s+via (\S+)/gm))
      routes.push(`${m[1]} via ${m[3]}`);
    return routes.sort();
  };
  const routesAre = async (want: string[]): Promise<boolean> =>
    (await routerRoutes()).join() === want.map((v) => `${v}/32 via ${LB1}`).join();
  /** The HTTP status the client gets from the alpha VIP. */
  const alphaStatus = async (): Promise<string> =>
    (await inNs(ns('client'), ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${ALPHA}/`]))
      .stdout;
  const mainPid = async (unit: string): Promise<number> => Number(await sys().show(unit, 'MainPID'));

  before(async () => {
    requireRoot();
    for (const t of ['mmdebstrap', 'systemd-nspawn', 'nsenter', 'ip', 'birdc', 'haproxy']) requireTool(t);
    await lab.up();
  });

  after(async () => {
    await lab.close();
    assert.deepEqual(namespacesWith(PREFIX), []);
  });

  it('a deploy writes, enables and starts every unit; the router learns every VIP', async () => {
    const t = Date.now();
    const out = await apply();
    timings.firstApplyMs = Date.now() - t;
    assert.match(out, /^start +haproxy@alpha /m);
    assert.match(out, /^start +haproxy@long /m);
    for (const unit of ['haproxy@alpha', 'haproxy@long', 'intentlb-bird', 'intentlb-healthd']) {
      assert.equal(await systemctl('is-active', unit), 'active', unit);
      assert.equal(await systemctl('is-enabled', unit), 'enabled', unit);
    }
    // Not started by the deploy: it runs at boot, before the instances.
    assert.equal(await systemctl('is-enabled', 'intentlb-boot'), 'enabled');
    assert.equal(await sys().show('haproxy@alpha', 'KillSignal'), '10'); // SIGUSR1
    await eventually(() => routesAre([ALPHA, LONG]), 30_000, 'the router learns both VIPs from lb1');
    timings.firstAnnounceMs = Date.now() - t;
    assert.equal(await alphaStatus(), '200');
  });

  it('a configuration change reloads hitlessly through systemd: apply, then systemctl reload', async () => {
    const master = await mainPid('haproxy@alpha');
    const workers = async () => (await sys().exec(['pgrep', '-P', String(master)])).stdout.trim();
    const before = await workers();
    // 250 requests a second, each on a new connection, for 8 s.
    const loader = inNs(ns('client'), [process.execPath, LOADER, ALPHA, '80', '4', '8000', '2000'], 40_000);
    await new Promise((r) => setTimeout(r, 1000));
    writeFileSync(
      siteFile('services/alpha.yaml'),
      `fqdn: alpha.sysd.example\nvip: ${ALPHA}\nbackend: { group: web, port: 8080, balance: leastconn }\n`,
    );
    const out = await apply();
    assert.match(out, /^reload +haproxy@alpha /m);
    const afterApply = await workers();
    await new Promise((r) => setTimeout(r, 1000));
    const reload = await sys().exec(['systemctl', 'reload', 'haproxy@alpha']);
    assert.equal(reload.code, 0, reload.stderr);
    const r = await loader;
    assert.equal(r.code, 0, r.stderr);
    const results = (
      JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as {
        results: [number, number, number, string][];
      }
    ).results;
    const failed = results.filter((x) => x[2] === 0);
    assert.ok(results.length >= 1500, `${results.length} requests`);
    assert.deepEqual(
      failed.slice(0, 10).map((x) => x[3]),
      [],
      `${failed.length} of ${results.length} requests failed`,
    );
    // New workers each time, the same master: reloaded, never restarted by systemd.
    const afterReload = await workers();
    assert.notEqual(afterApply, before);
    assert.notEqual(afterReload, afterApply);
    assert.equal(await mainPid('haproxy@alpha'), master);
    assert.equal(await sys().show('haproxy@alpha', 'NRestarts'), '0');
    assert.equal(await systemctl('is-active', 'haproxy@alpha'), 'active');
    timings.reloadRequests = results.length;
  });

  it("a removed VIP's instance stops softly: its open connection is held until it ends", async () => {
    // A TCP connection through the VIP, held open by the client.
    const holder: ChildProcess = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns('client'),
        process.execPath,
        '-e',
        `const s = require('node:net').connect(7000, '${LONG}', () => s.write('hi\\n'));
         s.on('data', () => console.log('data'));
         s.on('close', () => { console.log('closed'); process.exit(0); });
         s.on('error', (e) => console.log('error ' + e.code));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let seen = '';
    holder.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
    });
    try {
      await eventually(() => seen.includes('data'), 5000, 'the echo answers through the VIP');
      rmSync(siteFile('services/long.yaml'));
      const t = Date.now();
      const out = await apply();
      timings.removeApplyMs = Date.now() - t;
      assert.match(out, /^stop +haproxy@long /m);
      // apply did not wait for the soft stop: the unit is stopping, the connection still held.
      assert.equal(await sys().show('haproxy@long', 'ActiveState'), 'deactivating');
      assert.equal(await systemctl('is-enabled', 'haproxy@long'), 'disabled');
      const held = async () =>
        (await sys().exec(['ss', '-Htnp', 'state', 'established', '( sport = :7000 )'])).stdout;
      assert.match(await held(), /haproxy/);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await sys().show('haproxy@long', 'ActiveState'), 'deactivating');
      assert.match(await held(), /haproxy/);
      assert.ok(!seen.includes('closed') && !seen.includes('error'), seen);
      await eventually(() => routesAre([ALPHA]), 15_000, 'the router no longer learns the removed VIP');
      // The VIP is gone from the network, so the client's own close cannot reach the node: end
      // the connection on the node, as its last packet would. The soft stop then finishes.
      await sys().exec(['ss', '-K', '-tn', 'state', 'established', '( sport = :7000 )']);
      await eventually(
        async () => (await sys().show('haproxy@long', 'ActiveState')) === 'inactive',
        10_000,
        'haproxy@long stops once its last connection is gone',
      );
      assert.equal(await sys().show('haproxy@long', 'Result'), 'success');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a reboot comes back announcing exactly the intended VIPs', async () => {
    let t = Date.now();
    await sys().powerOff();
    timings.powerOffMs = Date.now() - t;
    await eventually(() => routesAre([]), 15_000, 'the router drops lb1 once it is off');
    // The lab's namespace outlives the container; a rebooted host loses its addresses on lo and
    // its nftables ruleset, so take them away here as a reboot would.
    const lb1 = ns('lb1');
    assert.equal((await inNs(lb1, ['ip', 'addr', 'flush', 'dev', 'lo', 'scope', 'global'])).code, 0);
    assert.equal((await inNs(lb1, ['nft', 'flush', 'ruleset'])).code, 0);
    t = Date.now();
    await sys().boot();
    timings.rebootMs = Date.now() - t;
    await eventually(() => routesAre([ALPHA]), 30_000, 'the router learns exactly the alpha VIP again');
    timings.rebootAnnounceMs = Date.now() - t;
    const lo = (await sys().exec(['ip', '-o', '-4', 'addr', 'show', 'dev', 'lo', 'scope', 'global'])).stdout;
    assert.deepEqual(
      [...lo.matchAll(/inet (\S+)/g)].map((m) => m[1]),
      [`${ALPHA}/32`],
    );
    assert.match((await sys().exec(['nft', 'list', 'tables'])).stdout, /intentlb/);
    assert.equal(await sys().show('intentlb-boot', 'ActiveState'), 'active');
    for (const unit of ['haproxy@alpha', 'intentlb-bird', 'intentlb-healthd'])
      assert.equal(await systemctl('is-active', unit), 'active', unit);
    assert.equal(await systemctl('is-active', 'haproxy@long'), 'inactive');
    assert.equal(await alphaStatus(), '200');
  });

  it('healthd, BIRD, keepalived and HAProxy come back when their main process is killed', async () => {
    // keepalived runs on VRRP sites only; on this anycast node its unit (written by apply on every
    // node) is started with a one-instance configuration of its own, to kill it under systemd.
    // /etc/intentlb is a link to the applied generation, absolute inside the container: copy the
    // file in from there.
    writeFileSync(
      join(sys().merged, 'srv/keepalived-probe.conf'),
      'vrrp_instance probe {\n  state BACKUP\n  interface eth0\n  virtual_router_id 199\n  priority 50\n  virtual_ipaddress {\n    198.18.0.199/32\n  }\n}\n',
    );
    const conf = '/etc/intentlb/keepalived/keepalived.conf';
    const put = await sys().exec(['install', '-D', '-m', '0644', '/srv/keepalived-probe.conf', conf]);
    assert.equal(put.code, 0, put.stderr);
    const started = await sys().exec(['systemctl', 'start', 'intentlb-keepalived']);
    assert.equal(started.code, 0, started.stderr);
    try {
      for (const unit of ['intentlb-healthd', 'intentlb-bird', 'intentlb-keepalived', 'haproxy@alpha']) {
        await eventually(async () => (await mainPid(unit)) > 0, 10_000, `${unit} running`);
        const pid = await mainPid(unit);
        const restarts = Number(await sys().show(unit, 'NRestarts'));
        assert.equal((await sys().exec(['kill', '-KILL', String(pid)])).code, 0);
        await eventually(
          async () => {
            const now = await mainPid(unit);
            return now > 0 && now !== pid && (await systemctl('is-active', unit)) === 'active';
          },
          15_000,
          `${unit} restarted by systemd`,
        );
        assert.equal(Number(await sys().show(unit, 'NRestarts')), restarts + 1, unit);
      }
    } finally {
      await sys().exec(['systemctl', 'stop', 'intentlb-keepalived']);
      await sys().exec(['rm', '-r', '/etc/intentlb/keepalived']);
    }
    // BIRD and healthd back: the router learns the VIP again.
    await eventually(() => routesAre([ALPHA]), 30_000, 'the router learns the alpha VIP again');
  });
});
