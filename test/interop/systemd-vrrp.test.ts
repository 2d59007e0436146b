/**
 * A VRRP node under a real booted systemd (ADR 0022, amended). The lab (`lab up --no-deploy`) wires
 * the router, two backends and a client for a two-node keepalived site; lb1 (priority 200) is
 * booted as a Debian system (`systemd-nspawn --boot`, test/helpers/systemd-container.ts) and
 * deployed by `intentlb apply` inside it, where systemd is PID 1; lb2 (priority 190) runs under
 * `intentlb supervise` as every lab node does. Proven here, against the real systemd, keepalived's
 * own state dump and the client's requests through the lab router:
 *
 * - apply enables and starts the HAProxy instances and `intentlb-keepalived` with the
 *   configuration it generated, and keepalived runs one VRRP instance per VIP;
 * - VRRP works across a systemd node and a supervised one: lb1 is MASTER of every VIP, lb2 BACKUP;
 * - failover: an instance stopped through systemd fails its track script and its VIP moves to lb2
 *   within the VRRP lab test's bound while the client's requests go on; started again, lb1 takes it
 *   back (preemption); keepalived SIGKILLed is restarted by systemd and lb1 is MASTER again;
 * - a hitless reload through systemd (apply's and `systemctl reload`) while lb1 holds the VIP;
 * - a reboot: lb2 holds every VIP while lb1 is off; after boot keepalived runs and lb1 is MASTER.
 *
 * Run: `node scripts/run-tests.mjs --interop systemd` (root; docs/operations.md).
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deployNode } from '../../src/lab/deploy-node.ts';
import { type LabProcess, spawnDetached, stopProcesses } from '../../src/lab/processes.ts';
import type { LabStatus } from '../../src/lab/status.ts';
import type { SystemdNode } from '../helpers/systemd-container.ts';
import { SystemdLab } from '../helpers/systemd-lab.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { cli, eventually, inNs, namespacesWith } from '../lab/lab-client.ts';

const SITE = new URL('../integration/sites/systemd-vrrp/', import.meta.url).pathname;
const LOADER = new URL('../../bench/lab/failover-loader.mjs', import.meta.url).pathname;
const PREFIX = 'ilbvs-';
const ALPHA = '198.18.50.10';
const BETA = '198.18.50.11';
/** Added and removed by the test; the lab router has no route for it (it was not in the site at `lab up`). */
const GAMMA = '198.18.50.12';
const LB1 = '198.18.0.11';
const LB2 = '198.18.0.12';
const SITE_IN = '/srv/site';
/** test/integration/lab-vrrp.test.ts: advert_int 1, 3 adverts plus skew, and the track script. */
const MOVE_BOUND_MS = 6000;
const WINDOW_BOUND_MS = 5000;

type Row = [number, number, number, string];

/**
 * The loader's rows in send order, merged into runs of one outcome (the serving node's address, or
 * `fail`), with send times in ms after `t`. Runs of fewer than 3 rows are folded into the previous
 * one, so a request raced by an ARP change does not split a run.
 */
function phases(rows: Row[], t: number): { what: string; from: number; to: number; n: number }[] {
  const runs: { what: string; from: number; to: number; n: number }[] = [];
  for (const [start, , ok, detail] of [...rows].sort((a, b) => a[0] - b[0])) {
    const what = ok === 0 ? 'fail' : detail;
    const at = Math.round(start - t);
    const last = runs.at(-1);
    if (last?.what === what) {
      last.to = at;
      last.n++;
    } else runs.push({ what, from: at, to: at, n: 1 });
  }
  const merged: typeof runs = [];
  for (const r of runs) {
    const last = merged.at(-1);
    if (last !== undefined && (r.n < 3 || last.what === r.what)) {
      last.to = r.to;
      last.n += r.n;
    } else merged.push({ ...r });
  }
  return merged;
}

describe('a VRRP node under a booted systemd, its peer under intentlb supervise', {
  timeout: 900_000,
}, () => {
  const lab = new SystemdLab({ site: SITE, prefix: PREFIX, siteIn: SITE_IN });
  const timings = lab.timings;
  let supervisor: LabProcess | undefined;
  const ns = (host: string): string => lab.ns(host);
  const sys = (): SystemdNode => lab.node!;
  const apply = (): Promise<string> => lab.apply();
  const systemctl = async (...args: string[]): Promise<string> =>
    (await sys().exec(['systemctl', ...args])).stdout.trim();
  const mainPid = async (unit: string): Promise<number> => Number(await sys().show(unit, 'MainPID'));
  /** VIP → the nodes holding it on their interface, from `lab status`. */
  const holders = async (): Promise<Map<string, string>> => {
    const r = await cli(['lab', 'status', '--prefix', PREFIX, '--format', 'json']);
    const st = JSON.parse(r.stdout) as LabStatus;
    return new Map((st.routes ?? []).map((x) => [x.vip, (x.holders ?? []).join()]));
  };
  const heldBy = async (vip: string, who: string): Promise<boolean> => (await holders()).get(vip) === who;
  const allHeldBy = async (who: string): Promise<boolean> =>
    [...(await holders()).values()].every((h) => h === who);
  /**
   * keepalived's own view: `SIGUSR1` makes it dump its state to /tmp/keepalived.data (the
   * container's /tmp), one `VRRP Instance = <name>` block with `State = <state>` each.
   */
  const vrrpStates = async (): Promise<Record<string, string>> => {
    await sys().exec(['rm', '-f', '/tmp/keepalived.data']);
    const k = await sys().exec([
      'systemctl',
      'kill',
      '--kill-whom=main',
      '-s',
      'USR1',
      'intentlb-keepalived',
    ]);
    assert.equal(k.code, 0, k.stderr);
    let text = '';
    await eventually(
      async () => {
        text = (await sys().exec(['cat', '/tmp/keepalived.data'])).stdout;
        return /VRRP Instance/.test(text) && /^-+< VRRP Sockpool/m.test(text);
      },
      5000,
      'keepalived dumps its state',
    );
    const states: Record<string, string> = {};
    for (const m of text.matchAll(/VRRP Instance = (\S+)\n(?:.*\n)*?\s+State = (\S+)/g))
      states[m[1]!] = m[2]!;
    return states;
  };
  const statusOf = async (vip: string): Promise<string> =>
    (await inNs(ns('client'), ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${vip}/`]))
      .stdout;
  /** Requests every `everyMs` to the VIP for `ms` from the client: [start, end, ok, node or error]. */
  const load = (vip: string, everyMs: number, ms: number): Promise<Row[]> =>
    inNs(
      ns('client'),
      [process.execPath, LOADER, vip, '80', String(everyMs), String(ms), '1000'],
      ms + 30_000,
    ).then((r) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as { results: Row[] }).results;
    });

  /** Deploys lb2 from its copy of the site as the lab does: `intentlb supervise`, then apply. */
  const deployLb2 = async (): Promise<void> => {
    supervisor = await deployNode({
      node: 'lb2',
      ns: ns('lb2'),
      root: lab.state!.nodes.find((n) => n.name === 'lb2')!.root,
      site: join(lab.work, 'site-lb2'),
      logDir: join(lab.dir, 'logs'),
      supervisor,
      spawn: spawnDetached,
    });
  };
  /** Deploys the site's current copies: lb2 as the lab does, then lb1 under systemd (its output). */
  const applyBoth = async (): Promise<string> => {
    await deployLb2();
    return apply();
  };
  /** Writes a service file into both nodes' copies of the site (`null` removes it). */
  const setService = (file: string, content: string | null): void => {
    for (const site of [join(sys().merged, SITE_IN.slice(1)), join(lab.work, 'site-lb2')]) {
      const path = join(site, 'services', file);
      if (content === null) rmSync(path);
      else writeFileSync(path, content);
    }
  };
  /** The VIPs on lb1's VRRP interface. */
  const onEth0 = async (): Promise<string[]> =>
    [
      ...(await sys().exec(['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout.matchAll(
        /inet (198\.18\.50\.\d+)\//g,
      ),
    ]
      .map((m) => m[1]!)
      .sort();

  before(async () => {
    requireRoot();
    for (const t of ['mmdebstrap', 'systemd-nspawn', 'nsenter', 'ip', 'haproxy', 'keepalived', 'curl'])
      requireTool(t);
    await lab.up();
    cpSync(SITE, join(lab.work, 'site-lb2'), { recursive: true });
  });

  after(async () => {
    try {
      if (supervisor !== undefined) await stopProcesses([supervisor], 5000);
    } finally {
      await lab.close();
    }
    assert.deepEqual(namespacesWith(PREFIX), []);
  });

  it('apply enables and starts the instances and keepalived with the configuration it generated', async () => {
    const t = Date.now();
    const out = await apply();
    timings.firstApplyMs = Date.now() - t;
    assert.match(out, /^start +haproxy@alpha /m);
    assert.match(out, /^start +haproxy@beta /m);
    assert.match(out, /^reload +keepalived /m);
    for (const unit of ['haproxy@alpha', 'haproxy@beta', 'intentlb-keepalived']) {
      assert.equal(await systemctl('is-active', unit), 'active', unit);
      assert.equal(await systemctl('is-enabled', unit), 'enabled', unit);
    }
    assert.equal(await systemctl('is-enabled', 'intentlb-boot'), 'enabled');
    // A VRRP node runs neither BIRD nor healthd.
    for (const unit of ['intentlb-bird', 'intentlb-healthd'])
      assert.equal(await systemctl('is-active', unit), 'inactive', unit);
    // keepalived runs the file apply installed, the one `intentlb build` generates for lb1.
    const execStart = await sys().show('intentlb-keepalived', 'ExecStart');
    assert.match(execStart, / -f \/etc\/intentlb\/keepalived\/keepalived\.conf /);
    const built = join(lab.work, 'build');
    const r = await cli(['build', SITE, '--out', built]);
    assert.equal(r.code, 0, r.stderr);
    const installed = await sys().exec(['cat', '/etc/intentlb/keepalived/keepalived.conf']);
    assert.equal(installed.stdout, readFileSync(join(built, 'lb1/keepalived/keepalived.conf'), 'utf8'));
    // One VRRP instance per VIP in keepalived's own state; alone, lb1 is MASTER of both.
    await eventually(
      async () => JSON.stringify(await vrrpStates()) === '{"alpha":"MASTER","beta":"MASTER"}',
      15_000,
      'keepalived on lb1 is MASTER of alpha and beta',
    );
    timings.firstMasterMs = Date.now() - t;
    await eventually(() => allHeldBy('lb1'), 10_000, 'lb1 holds both VIPs');
  });

  it('VRRP across the systemd node and a supervised one: lb1 MASTER, lb2 BACKUP, the VIPs answer', async () => {
    await deployLb2();
    // lb2's keepalived has come up as BACKUP: lb1 keeps both VIPs, with no flap to lb2.
    await new Promise((r) => setTimeout(r, 5000));
    assert.deepEqual(Object.fromEntries(await holders()), { [ALPHA]: 'lb1', [BETA]: 'lb1' });
    assert.deepEqual(await vrrpStates(), { alpha: 'MASTER', beta: 'MASTER' });
    const lb2Log = readFileSync(join(lab.dir, 'logs', 'lb2-supervise.log'), 'utf8');
    assert.match(lb2Log, /\(alpha\) Entering BACKUP STATE/);
    assert.doesNotMatch(lb2Log, /\((alpha|beta)\) Entering MASTER STATE/);
    const rows = await load(ALPHA, 20, 2000);
    assert.deepEqual(
      [...new Set(rows.map((x) => x[3]))],
      [LB1],
      'every request through the router is served by lb1',
    );
    assert.equal(await statusOf(BETA), '200');
  });

  it('failover: an instance stopped through systemd moves its VIP to lb2 within the bound; lb1 takes it back', async () => {
    const loading = load(ALPHA, 4, 12_000);
    await new Promise((r) => setTimeout(r, 1500));
    const t = Date.now();
    // `systemctl kill` (SIGTERM) ends the instance for good (a clean exit: Restart=on-failure
    // leaves it down), so its track script fails and keepalived moves the VIP.
    // To the master alone: it ends its workers itself (a race with them exiting made a whole-cgroup
    // kill report failure once).
    const killed = await sys().exec(['systemctl', 'kill', '--kill-whom=main', 'haproxy@alpha']);
    assert.equal(killed.code, 0, killed.stderr);
    await eventually(() => heldBy(ALPHA, 'lb2'), 10_000, 'lb2 holds alpha');
    const moved = Date.now() - t;
    timings.failoverMovedMs = moved;
    assert.ok(moved < MOVE_BOUND_MS, `alpha moved after ${moved} ms`);
    // Only the failing instance moves.
    assert.equal((await holders()).get(BETA), 'lb1');
    const rows = await loading;
    const failed = rows.filter((x) => x[2] === 0).map((x) => x[0]);
    const window = failed.length === 0 ? 0 : Math.max(...failed) - Math.min(...failed);
    timings.failoverWindowMs = Math.round(window);
    timings.failoverFailed = failed.length;
    assert.ok(window < WINDOW_BOUND_MS, `error window ${window.toFixed(0)} ms (${failed.length} failed)`);
    const late = rows.filter((x) => x[0] > t + MOVE_BOUND_MS);
    assert.ok(late.length > 500, `${late.length} requests after the bound`);
    assert.deepEqual(
      late
        .filter((x) => x[2] === 0 || x[3] !== LB2)
        .map((x) => x[3])
        .slice(0, 5),
      [],
      'after the bound every request is served by lb2',
    );
    assert.deepEqual(await vrrpStates(), { alpha: 'FAULT', beta: 'MASTER' });

    // Started again, its check rises (2 × 2 s) and lb1, the higher priority, preempts.
    const started = await sys().exec(['systemctl', 'start', 'haproxy@alpha']);
    assert.equal(started.code, 0, started.stderr);
    await eventually(() => heldBy(ALPHA, 'lb1'), 20_000, 'lb1 takes alpha back');
    assert.deepEqual(await vrrpStates(), { alpha: 'MASTER', beta: 'MASTER' });
    assert.equal(await statusOf(ALPHA), '200');
  });

  it('keepalived SIGKILLed: systemd restarts it and lb1 is MASTER again, with requests going on', async () => {
    const pid = await mainPid('intentlb-keepalived');
    const restarts = Number(await sys().show('intentlb-keepalived', 'NRestarts'));
    const loading = load(ALPHA, 4, 12_000);
    await new Promise((r) => setTimeout(r, 1000));
    const t = Date.now();
    assert.equal((await sys().exec(['kill', '-KILL', String(pid)])).code, 0);
    await eventually(
      async () => {
        const now = await mainPid('intentlb-keepalived');
        return now > 0 && now !== pid && (await systemctl('is-active', 'intentlb-keepalived')) === 'active';
      },
      15_000,
      'intentlb-keepalived restarted by systemd',
    );
    timings.keepalivedRestartMs = Date.now() - t;
    assert.equal(Number(await sys().show('intentlb-keepalived', 'NRestarts')), restarts + 1);
    await eventually(
      async () => JSON.stringify(await vrrpStates()) === '{"alpha":"MASTER","beta":"MASTER"}',
      20_000,
      'the restarted keepalived is MASTER of both again',
    );
    await eventually(() => allHeldBy('lb1'), 10_000, 'lb1 alone holds both VIPs');
    timings.keepalivedBackMs = Date.now() - t;
    const rows = await loading;
    // Silent for 3 adverts, lb1 loses alpha to lb2; its restarted keepalived hears lb2's lower
    // priority and preempts: two moves, each a short burst of failures, lb2 serving between.
    const runs = phases(rows, t);
    timings.keepalivedKillFailed = rows.filter((x) => x[2] === 0).length;
    const text = runs.map((r) => `${r.what}@${r.from}ms×${r.n}`).join(' ');
    console.log(`keepalived SIGKILL, what the client saw: ${text}`);
    assert.deepEqual(
      runs
        .filter((r) => r.what !== 'fail')
        .map((r) => r.what)
        .filter((w, k, all) => w !== all[k - 1]),
      [LB1, LB2, LB1],
      `served by lb1, then lb2, then lb1 again: ${text}`,
    );
    for (const r of runs.filter((x) => x.what === 'fail'))
      assert.ok(r.to - r.from < WINDOW_BOUND_MS, `a burst of failures over ${r.to - r.from} ms: ${text}`);
    assert.equal(await statusOf(ALPHA), '200');
  });

  it('a hitless reload through systemd on the MASTER: apply, then systemctl reload, 0 failed requests', async () => {
    const master = await mainPid('haproxy@alpha');
    const workers = async () => (await sys().exec(['pgrep', '-P', String(master)])).stdout.trim();
    const before = await workers();
    const restarts = await sys().show('haproxy@alpha', 'NRestarts');
    // 250 requests a second, each on a new connection, for 8 s.
    const loading = load(ALPHA, 4, 8000);
    await new Promise((r) => setTimeout(r, 1000));
    setService(
      'alpha.yaml',
      `fqdn: alpha.sysv.example\nvip: ${ALPHA}\nbackend: { group: web, port: 8080, balance: leastconn }\n`,
    );
    assert.match(await apply(), /^reload +haproxy@alpha /m);
    const afterApply = await workers();
    await new Promise((r) => setTimeout(r, 1000));
    const reload = await sys().exec(['systemctl', 'reload', 'haproxy@alpha']);
    assert.equal(reload.code, 0, reload.stderr);
    const rows = await loading;
    const failed = rows.filter((x) => x[2] === 0);
    assert.ok(rows.length >= 1500, `${rows.length} requests`);
    assert.deepEqual(
      failed.slice(0, 10).map((x) => x[3]),
      [],
      `${failed.length} of ${rows.length} failed`,
    );
    assert.deepEqual([...new Set(rows.map((x) => x[3]))], [LB1], 'lb1 served them all');
    timings.reloadRequests = rows.length;
    assert.notEqual(afterApply, before);
    assert.notEqual(await workers(), afterApply);
    assert.equal(await mainPid('haproxy@alpha'), master);
    assert.equal(await sys().show('haproxy@alpha', 'NRestarts'), restarts);
    // The reload did not disturb VRRP.
    assert.deepEqual(await vrrpStates(), { alpha: 'MASTER', beta: 'MASTER' });
  });

  it('a VIP added: apply starts its instance and reloads keepalived (SIGHUP), as `systemctl reload` does', async () => {
    const pid = await mainPid('intentlb-keepalived');
    setService(
      'gamma.yaml',
      `fqdn: gamma.sysv.example\nvip: ${GAMMA}\nbackend: { group: web, port: 8080 }\n`,
    );
    const out = await applyBoth();
    assert.match(out, /^start +haproxy@gamma /m);
    assert.match(out, /^reload +keepalived /m);
    assert.equal(await systemctl('is-enabled', 'haproxy@gamma'), 'enabled');
    await eventually(
      async () =>
        JSON.stringify(await vrrpStates()) === '{"alpha":"MASTER","beta":"MASTER","gamma":"MASTER"}',
      20_000,
      'keepalived runs the new instance, MASTER on lb1',
    );
    assert.deepEqual(await onEth0(), [ALPHA, BETA, GAMMA]);
    assert.equal(await mainPid('intentlb-keepalived'), pid, 'reloaded, not restarted');
    const reload = await sys().exec(['systemctl', 'reload', 'intentlb-keepalived']);
    assert.equal(reload.code, 0, reload.stderr);
    assert.equal(await mainPid('intentlb-keepalived'), pid);
    assert.equal(await systemctl('is-active', 'intentlb-keepalived'), 'active');
  });

  it('a VIP removed while keepalived is down after a crash (a stale pid file): apply starts keepalived', async () => {
    // SIGKILL leaves keepalived's pid file behind; stopped before systemd restarts it, the file stays.
    const pid = await mainPid('intentlb-keepalived');
    await sys().exec(['kill', '-KILL', String(pid)]);
    await sys().exec(['systemctl', 'stop', 'intentlb-keepalived']);
    // `failed` (killed by a signal, stopped while waiting to restart), not running.
    assert.equal(await systemctl('is-active', 'intentlb-keepalived'), 'failed');
    assert.equal((await sys().exec(['cat', '/run/intentlb/keepalived.pid'])).stdout.trim(), String(pid));
    setService('gamma.yaml', null);
    const out = await applyBoth();
    assert.match(out, /^stop +haproxy@gamma /m);
    assert.match(out, /^reload +keepalived /m);
    assert.equal(await systemctl('is-active', 'intentlb-keepalived'), 'active');
    await eventually(
      async () => JSON.stringify(await vrrpStates()) === '{"alpha":"MASTER","beta":"MASTER"}',
      20_000,
      'the started keepalived is MASTER of alpha and beta, without gamma',
    );
    await eventually(
      async () => (await onEth0()).join() === [ALPHA, BETA].join(),
      10_000,
      'gamma gone from eth0',
    );
    await eventually(() => allHeldBy('lb1'), 10_000, 'lb1 alone holds both VIPs');
    assert.equal(await statusOf(ALPHA), '200');
  });

  it('a reboot: lb2 holds the VIPs while lb1 is off; after boot keepalived runs and lb1 is MASTER', async () => {
    let t = Date.now();
    await sys().powerOff();
    timings.powerOffMs = Date.now() - t;
    // keepalived stopping sends priority 0: lb2 takes over at once.
    await eventually(() => allHeldBy('lb2'), MOVE_BOUND_MS, 'lb2 holds both VIPs while lb1 is off');
    assert.equal(await statusOf(ALPHA), '200');
    // The namespace outlives the container; a rebooted host has no nftables ruleset.
    assert.equal((await inNs(ns('lb1'), ['nft', 'flush', 'ruleset'])).code, 0);
    t = Date.now();
    await sys().boot();
    timings.rebootMs = Date.now() - t;
    await eventually(() => allHeldBy('lb1'), 30_000, 'lb1 takes both VIPs back after boot');
    timings.rebootMasterMs = Date.now() - t;
    for (const unit of ['intentlb-boot', 'intentlb-keepalived', 'haproxy@alpha', 'haproxy@beta'])
      assert.equal(await systemctl('is-active', unit), 'active', unit);
    assert.match((await sys().exec(['nft', 'list', 'tables'])).stdout, /intentlb/);
    assert.deepEqual(await vrrpStates(), { alpha: 'MASTER', beta: 'MASTER' });
    assert.equal(await statusOf(ALPHA), '200');
    assert.equal(await statusOf(BETA), '200');
  });
});
