import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIRD_NICE, HEALTHD_ENV, HEALTHD_NODE_OPTIONS } from '../../src/deploy/services/index.ts';
import { setFlowPinning } from '../../src/lab/flow-pinning.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { cleanupLab, cli, eventually, inNs, namespacesWith } from '../lab/lab-client.ts';

// examples/campus in the lab with VIPs by BGP: killing one node's HAProxy instance withdraws that
// VIP from that node only, the other node keeps serving, and the restarted instance is announced
// again; a planned drain under load loses no request. bench/lab/failover.ts measures the windows.
const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;
const LOADER = new URL('../../bench/lab/failover-loader.mjs', import.meta.url).pathname;
const PROBE = new URL('../../bench/lab/keepalive-probe.mjs', import.meta.url).pathname;
const PREFIX = 'ilba-';
const DIR = defaultLabDir(PREFIX);
const WIKI = '198.18.100.12';
const OTHERS = ['198.18.100.10', '198.18.100.11', '198.18.100.13', '198.18.101.40'];
const ADDR: Record<string, string> = { lb1: '198.18.0.11', lb2: '198.18.0.12' };

describe('anycast failover in the lab (BGP, healthd)', { timeout: 600_000 }, () => {
  let state: LabState;
  const ns = (host: string): string => state.topology.hosts.find((h) => h.name === host)!.ns;
  const root = (node: string): string => state.nodes.find((n) => n.name === node)!.root;
  const hops = async (vip: string): Promise<string[]> => {
    const r = await inNs(ns('router'), ['ip', 'route', 'show', `${vip}/32`]);
    return [...r.stdout.matchAll(/via (\S+)/g)].map((m) => m[1]!).sort();
  };
  /** `intentlb healthd <cmd...>` against lb1's healthd, inside lb1's namespace. */
  const hd = (...cmd: string[]) =>
    inNs(ns('lb1'), [
      process.execPath,
      `${ROOT}bin/intentlb.mjs`,
      'healthd',
      ...cmd,
      '--config',
      join(root('lb1'), 'etc/intentlb/healthd.yaml'),
    ]);
  const onBoth = async (vips: string[]): Promise<boolean> => {
    for (const v of vips) if ((await hops(v)).length !== 2) return false;
    return true;
  };
  /**
   * What the router knows, for a failure message: its route to the wiki VIP and its BGP and BFD
   * sessions (`birdc` on the router's socket).
   */
  const routerView = async (): Promise<string> => {
    const route = await inNs(ns('router'), ['ip', 'route', 'show', `${WIKI}/32`]);
    const bird = async (cmd: string[]) =>
      (await inNs(ns('router'), ['birdc', '-s', state.router.socket, ...cmd])).stdout.trim();
    return [
      `router route: ${route.stdout.trim() || '(none)'}`,
      `router BIRD protocols:\n${await bird(['show', 'protocols'])}`,
      `router BFD sessions:\n${await bird(['show', 'bfd', 'sessions'])}`,
    ].join('\n');
  };
  /**
   * Runs the bench's loader in the client namespace while `during` runs. Returns the counts and,
   * for a failure message, what happened: each failed request's error and start time on the clock
   * of `mark`'s labels, and per 250 ms which node served how many requests and how many failed.
   */
  const underLoad = async (
    ms: number,
    during: (mark: (label: string) => void) => Promise<void>,
  ): Promise<[number, number, string]> => {
    const marks: [string, number][] = [];
    const mark = (label: string): void => {
      marks.push([label, Date.now()]);
    };
    const loader = inNs(
      ns('client'),
      [process.execPath, LOADER, WIKI, '80', '4', String(ms), '1000'],
      ms + 20_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    try {
      await during(mark);
    } finally {
      await loader;
    }
    const r = await loader;
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'))!;
    const results = (JSON.parse(line) as { results: [number, number, number, string][] }).results;
    const failed = results.filter((x) => x[2] === 0);
    const when = (t: number): string =>
      marks.map(([label, at]) => `${Math.round(t - at)} ms after ${label}`).join(', ');
    const what = failed
      .slice(0, 20)
      .map(([start, end, , detail]) => `${detail} (${Math.round(end - start)} ms; ${when(start)})`);
    if (failed.length > 20) what.push(`… ${failed.length - 20} more`);
    return [results.length - failed.length, failed.length, `${what.join('; ')}\n${timeline(results, marks)}`];
  };

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'bird', 'keepalived', 'nft']) requireTool(t);
    await cleanupLab(PREFIX, DIR);
    const r = await cli(['lab', 'up', CAMPUS, '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    state = readState(DIR)!;
    await eventually(() => onBoth([WIKI, ...OTHERS]), 90_000, 'every VIP routed over both nodes');
  });

  after(async () => {
    await cleanupLab(PREFIX, DIR);
    assert.deepEqual(namespacesWith(PREFIX), []);
  });

  for (const [i, node] of ['lb1', 'lb2', 'lb1'].entries()) {
    it(`run ${i + 1}: killing web-wiki's HAProxy on ${node} withdraws only that VIP from ${node}`, async () => {
      const other = node === 'lb1' ? 'lb2' : 'lb1';
      const pidfile = join(root(node), 'run/intentlb/haproxy/web-wiki.pid');
      const pid = Number(readFileSync(pidfile, 'utf8').trim().split('\n')[0]);
      const [ok] = await underLoad(4000, async () => {
        process.kill(pid, 'SIGKILL');
        await eventually(async () => (await hops(WIKI)).join() === ADDR[other], 5000, 'wiki withdrawn');
        assert.ok(await onBoth(OTHERS), 'the other VIPs stay on both nodes');
      });
      assert.ok(ok > 500, `the other node kept serving (${ok} ok)`);
      // Re-announced after the supervisor's restart, the hold-down (5 s, doubled on repeats) and rise.
      await eventually(
        async () =>
          Number(readFileSync(pidfile, 'utf8').trim().split('\n')[0]) !== pid && (await onBoth([WIKI])),
        90_000,
        `web-wiki on ${node} re-announced after its restart`,
      );
    });
  }

  it("a node's link down takes it out by BFD; `lab link up` brings it back with its default routes", async () => {
    const routes = async (family: string) =>
      (await inNs(ns('lb2'), ['ip', family, 'route', 'show', 'default'])).stdout.trim();
    const before = [await routes('-4'), await routes('-6')];
    assert.match(before[0]!, /^default via 198\.18\.0\.1 /);
    assert.match(before[1]!, /^default via 2001:db8::1 /);
    let view = '';
    try {
      const [ok, failed, what] = await underLoad(4000, async (mark) => {
        mark('down');
        const down = await cli(['lab', 'link', 'lb2', 'down', '--prefix', PREFIX]);
        assert.equal(down.code, 0, down.stderr);
        mark('downed');
        await eventually(
          async () => (await hops(WIKI)).join() === ADDR.lb1,
          3000,
          'lb2 removed by BFD',
        ).catch(async (e: Error) => {
          throw new Error(`${e.message}\n${await routerView()}`);
        });
        mark('removed');
        view = await routerView();
      });
      assert.ok(
        ok > 500 && failed < ok / 4,
        `lb1 kept serving (${ok} ok, ${failed} failed): ${what}\n${view}`,
      );
      assert.equal(await routes('-4'), '', 'link down flushes the default route');
    } finally {
      const up = await cli(['lab', 'link', 'lb2', 'up', '--prefix', PREFIX]);
      assert.equal(up.code, 0, up.stderr);
    }
    assert.deepEqual([await routes('-4'), await routes('-6')], before);
    await eventually(() => onBoth([WIKI, ...OTHERS]), 90_000, 'lb2 announces every VIP again');
  });

  it('a blackholed node (link up, path dead) is taken out by BFD and back within seconds of repair', async () => {
    let repaired = false;
    try {
      const hole = await cli(['lab', 'link', 'lb1', 'blackhole', '--prefix', PREFIX]);
      assert.equal(hole.code, 0, hole.stderr);
      await eventually(async () => (await hops(WIKI)).join() === ADDR.lb2, 3000, 'lb1 removed by BFD').catch(
        async (e: Error) => {
          throw new Error(`${e.message}\n${await routerView()}`);
        },
      );
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      const up = await cli(['lab', 'link', 'lb1', 'up', '--prefix', PREFIX]);
      assert.equal(up.code, 0, up.stderr);
      repaired = true;
    }
    assert.ok(repaired);
    // The session went down by an error (BFD), not a link: BIRD waits its `error wait time` before
    // it talks again — 5 s as rendered, where BIRD's default would keep lb1 out for 60 s.
    const t0 = Date.now();
    await eventually(() => onBoth([WIKI]), 30_000, 'lb1 back within 30 s');
    assert.ok(Date.now() - t0 < 30_000);
  });

  it('a planned drain and undrain under load loses no request', async () => {
    let undrained = false;
    try {
      const [ok, failed, what] = await underLoad(5000, async (mark) => {
        mark('drain');
        assert.equal((await hd('drain')).code, 0);
        mark('drained');
        assert.equal(
          (await hops(WIKI)).join(),
          ADDR.lb2,
          `drained: routed to lb2 only\n${await routerView()}`,
        );
        await new Promise((r) => setTimeout(r, 1000));
        mark('undrain');
        assert.equal((await hd('undrain')).code, 0);
        undrained = true;
        mark('undrained');
      });
      assert.equal(failed, 0, `${failed} of ${ok + failed} requests failed: ${what}`);
    } finally {
      if (!undrained) assert.equal((await hd('undrain')).code, 0);
    }
    await eventually(() => onBoth([WIKI, ...OTHERS]), 30_000, 'announced again after undrain');
  });

  it('connections open across a drain keep being served by the drained node (the router pins flows)', async () => {
    assert.equal(state.flows, 'pinned');
    const status = async () => (await cli(['lab', 'status', '--prefix', PREFIX])).stdout.split('\n')[0]!;
    assert.match(await status(), /VIPs routed by bgp, connections pinned to their node;/);
    /** 16 keep-alive connections, a request on each every 250 ms, before and through lb1's drain. */
    const acrossDrain = async (): Promise<[string, string][]> => {
      const probe = inNs(ns('client'), [process.execPath, PROBE, WIKI, '80', '16', '5000', '250'], 20_000);
      let undrained = false;
      try {
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal((await hd('drain')).code, 0);
        assert.equal((await hops(WIKI)).join(), ADDR.lb2, 'drained: routed to lb2 only');
        const r = await probe;
        assert.equal(r.code, 0, r.stderr);
        assert.equal((await hd('undrain')).code, 0);
        undrained = true;
        return (JSON.parse(r.stdout) as { connections: [string, string][] }).connections;
      } finally {
        if (!undrained) await probe.then(() => hd('undrain'));
        await eventually(() => onBoth([WIKI]), 30_000, 'announced again after undrain');
      }
    };
    const pinned = await acrossDrain();
    assert.deepEqual(
      [...new Set(pinned.map(([first]) => first))].sort(),
      [ADDR.lb1, ADDR.lb2],
      `the first requests went over both nodes: ${JSON.stringify(pinned)}`,
    );
    for (const [first, second] of pinned) assert.equal(second, first, JSON.stringify(pinned));

    // The same with the router's plain ECMP hash: lb1's connections move to lb2, which fails them.
    // This is what a drain costs behind a router without flow state, and proves the check above
    // can fail.
    await setFlowPinning(state, false);
    try {
      assert.match(await status(), /VIPs routed by bgp, plain ECMP;/);
      const plain = await acrossDrain();
      const onLb1 = plain.filter(([first]) => first === ADDR.lb1);
      assert.ok(onLb1.length > 0, JSON.stringify(plain));
      // lb2 resets them, or its firewall drops them as invalid and they time out.
      for (const [, second] of onLb1)
        assert.match(second, /ECONNRESET|closed|timeout/, JSON.stringify(plain));
      for (const [first, second] of plain.filter(([f]) => f === ADDR.lb2)) assert.equal(second, first);
    } finally {
      await setFlowPinning(state, true);
    }
  });

  it("the supervisor runs healthd with the unit's node options and environment, BIRD at its niceness", async () => {
    const r = await hd('status', '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    const pid = (JSON.parse(r.stdout) as { pid: number }).pid;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const option of HEALTHD_NODE_OPTIONS) assert.ok(argv.includes(option), argv.join(' '));
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    for (const [k, v] of Object.entries(HEALTHD_ENV)) assert.ok(environ.includes(`${k}=${v}`), `${k}=${v}`);
    // BIRD runs at the unit's niceness, every thread of it (BFD has its own).
    const bird = Number(readFileSync(join(root('lb1'), 'run/intentlb/bird.pid'), 'utf8').trim());
    assert.match(readFileSync(`/proc/${bird}/cmdline`, 'utf8'), /bird/);
    for (const task of readdirSync(`/proc/${bird}/task`)) {
      const stat = readFileSync(`/proc/${bird}/task/${task}/stat`, 'utf8');
      const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      assert.equal(nice, BIRD_NICE, `bird thread ${task}: nice ${nice}`);
    }
  });
});

/**
 * Per 250 ms from the loader's first request: how many requests each node served (by the address
 * the backend saw) and how many failed, with the marks where they fell.
 */
function timeline(results: [number, number, number, string][], marks: [string, number][]): string {
  if (results.length === 0) return '(no requests)';
  const t0 = results[0]![0];
  const rows = new Map<number, Map<string, number>>();
  for (const [start, , ok, detail] of results) {
    const slot = Math.floor((start - t0) / 250);
    const row = rows.get(slot) ?? new Map<string, number>();
    const key = ok === 1 ? detail : `failed`;
    row.set(key, (row.get(key) ?? 0) + 1);
    rows.set(slot, row);
  }
  const lines: string[] = [];
  for (const [slot, row] of [...rows].sort((a, b) => a[0] - b[0])) {
    const at = marks.filter(([, t]) => Math.floor((t - t0) / 250) === slot).map(([l]) => ` <${l}>`);
    const counts = [...row].map(([k, n]) => `${k}=${n}`).join(' ');
    lines.push(`  +${slot * 250} ms: ${counts}${at.join('')}`);
  }
  return lines.join('\n');
}
