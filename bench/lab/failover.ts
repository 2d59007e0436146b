// Failover in the lab: the error window a client sees (first to last failed request) when, under
// a load of one new connection every 4 ms to an HTTP VIP,
//   kill       — one node's HAProxy instance for that VIP is killed (kill -9 of its master): healthd
//                sees the pid die and withdraws the VIP (target p99 ≤ 300 ms);
//   node       — one node's link is taken down inside its namespace (`lab link <node> down`): BFD
//                (50 ms × 3) removes its routes at the router (target ≤ 200 ms);
//   blackhole  — one node's link stays up but drops every packet (`lab link <node> blackhole`):
//                only BFD can tell;
//   drain      — `intentlb healthd drain` on one node, then `undrain` (target 0 failed requests),
//                each run once with the lab router pinning connections to their node and once with
//                its plain ECMP hash;
//   vrrp-node, vrrp-blackhole — the same node losses with the site switched to keepalived VRRP
//                (advert_int 1 by default), on the same lab topology, in the same bench run.
// Each node loss is followed by a second load while the node comes back (`lab link <node> up`):
// the "return" figures are the requests that failed while it rejoined.
//
//   node --import tsx bench/lab/failover.ts [--router bird|frr] [--prefix P] [--runs N]
//        [--node-runs N] [--blackhole-runs N] [--drain-runs N] [--vrrp-runs N]
//        [--vrrp-blackhole-runs N] [--vrrp-advert S]
//
// Needs root. Brings examples/campus up in BGP mode with its own prefix (ilbf- unless --prefix)
// and lab folder, its router BIRD or FRRouting (--router, `lab up --router`), then (for the VRRP
// cases) a VRRP copy of it under the same prefix, and always takes the lab down again (lab down,
// then a sweep of any namespace left with the prefix).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlowPinning } from '../../src/lab/flow-pinning.ts';
import { type LinkState, setLink } from '../../src/lab/link.ts';
import { IP, listNamespaces } from '../../src/lab/netns.ts';
import { ROUTER_KINDS, type RouterKind } from '../../src/lab/router-driver.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import { vrrpVariant } from '../../test/helpers/vrrp-site.ts';
import { labCleanup } from './cleanup.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const LOADER = new URL('./failover-loader.mjs', import.meta.url).pathname;
const PROBE = new URL('./keepalive-probe.mjs', import.meta.url).pathname;
/** Keep-alive connections the drain case holds open across drain and undrain. */
const HELD = 16;
const EVERY_MS = 4;
const TIMEOUT_MS = 1000;
/**
 * The HTTP VIPs on port 80 the kill case rotates through. healthd doubles a VIP's hold-down when
 * it is withdrawn again within 40 s (8 × 5 s) of being announced; rotating over 4 VIPs × 2 nodes
 * keeps every (VIP, node) pair's kills > 40 s apart, so each run sees the same 5 s hold-down.
 */
const VIPS = [
  { instance: 'web-wiki', address: '198.18.100.12' },
  { instance: 'web-typo3-www', address: '198.18.100.10' },
  { instance: 'web-typo3-events', address: '198.18.100.11' },
  { instance: 'web-intranet', address: '198.18.100.13' },
];
const NODES = ['lb1', 'lb2'];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'node-runs': { type: 'string', default: '20' },
    'blackhole-runs': { type: 'string', default: '5' },
    'drain-runs': { type: 'string', default: '3' },
    'vrrp-runs': { type: 'string', default: '10' },
    'vrrp-blackhole-runs': { type: 'string', default: '3' },
    'vrrp-advert': { type: 'string', default: '1' },
    router: { type: 'string', default: 'bird' },
    prefix: { type: 'string', default: 'ilbf-' },
  },
});
const PREFIX = values.prefix;
const DIR = defaultLabDir(PREFIX);
if (!(ROUTER_KINDS as readonly string[]).includes(values.router)) {
  console.error(`--router: one of ${ROUTER_KINDS.join(', ')}`);
  process.exit(2);
}
const ROUTER = values.router as RouterKind;
const runs = Number(values.runs);
const nodeRuns = Number(values['node-runs']);
const blackholeRuns = Number(values['blackhole-runs']);
const drainRuns = Number(values['drain-runs']);
const vrrpRuns = Number(values['vrrp-runs']);
const vrrpBlackholeRuns = Number(values['vrrp-blackhole-runs']);
const vrrpAdvert = Number(values['vrrp-advert']);

interface Run {
  exec: (cmd: string, args: string[], timeoutMs?: number) => Promise<{ code: number; out: string }>;
}
const run: Run['exec'] = (cmd, args, timeoutMs = 60_000) =>
  new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : Number(err.code ?? 1), out: `${stdout}${stderr}` }),
    );
  });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const intentlb = (args: string[], timeoutMs?: number) =>
  run(process.execPath, [`${ROOT}bin/intentlb.mjs`, ...args], timeoutMs);
const inNs = (ns: string, args: string[], timeoutMs?: number) =>
  run(IP, ['netns', 'exec', ns, ...args], timeoutMs);

const cleanup = (): Promise<void> => labCleanup(PREFIX, DIR);

/** Polls `fn` every 100 ms until true; false after `ms`. */
async function until(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await fn().catch(() => false)) return true;
    await sleep(100);
  }
  return false;
}

let state!: LabState;
const ns = (host: string): string => state.topology.hosts.find((h) => h.name === host)!.ns;
const nodeRoot = (node: string): string => state.nodes.find((n) => n.name === node)!.root;
const healthdConfig = (node: string): string => join(nodeRoot(node), 'etc/intentlb/healthd.yaml');
const nodeAddress: Record<string, string> = { lb1: '198.18.0.11', lb2: '198.18.0.12' };

/** The router's kernel next hops for a VIP (what the data path uses). */
async function nexthops(vip: string): Promise<string[]> {
  const r = await run(IP, ['-n', ns('router'), 'route', 'show', `${vip}/32`]);
  return [...r.out.matchAll(/via (\S+)/g)].map((m) => m[1]!).sort();
}
async function everyVipOnBoth(vips: readonly string[]): Promise<boolean> {
  for (const v of vips) if ((await nexthops(v)).length !== 2) return false;
  return true;
}

interface Load {
  started: Promise<number>;
  done: Promise<[number, number, number, string][]>;
  pid: number | undefined;
}
/** The loader in the client namespace: one request every EVERY_MS for `ms`. */
function load(vip: string, ms: number): Load {
  const child = spawn(
    IP,
    [
      'netns',
      'exec',
      ns('client'),
      process.execPath,
      LOADER,
      vip,
      '80',
      String(EVERY_MS),
      String(ms),
      String(TIMEOUT_MS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  let resolveStart: (t: number) => void = () => {};
  const started = new Promise<number>((r) => {
    resolveStart = r;
  });
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /^start ([0-9.]+)/m.exec(out);
    if (m) resolveStart(Number(m[1]));
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), ms + TIMEOUT_MS + 15_000);
  const done = new Promise<[number, number, number, string][]>((resolve, reject) => {
    child.on('close', () => {
      clearTimeout(guard);
      resolveStart(Number.NaN);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) reject(new Error(`the loader printed no results: ${out.slice(0, 500)}`));
      else resolve((JSON.parse(line) as { results: [number, number, number, string][] }).results);
    });
  });
  return { started, done, pid: child.pid };
}

interface Outcome {
  what: string;
  requests: number;
  failed: number;
  /** First to last failed request (their start times), ms; 0 with none or one. */
  windowMs: number;
  /** From the event to the start of the last failed request, ms. */
  eventToLastMs: number;
  spread: string;
  /** Keep-alive connections served after the event by the node they started on, of those held. */
  held?: [number, number];
}
function analyse(what: string, results: [number, number, number, string][], event: number): Outcome {
  const failed = results.filter((r) => r[2] === 0);
  const starts = failed.map((r) => r[0]);
  const by = new Map<string, number>();
  for (const r of results) by.set(r[3], (by.get(r[3]) ?? 0) + 1);
  return {
    what,
    requests: results.length,
    failed: failed.length,
    windowMs: failed.length > 0 ? Math.max(...starts) - Math.min(...starts) : 0,
    eventToLastMs: failed.length > 0 ? Math.max(...starts) - event : 0,
    spread: [...by].map(([k, n]) => `${k}:${n}`).join(' '),
  };
}
/** Held keep-alive connections kept over the runs, or – for cases without them. */
const held = (os: Outcome[]): string => {
  const hs = os.flatMap((o) => (o.held === undefined ? [] : [o.held]));
  return hs.length === 0 ? '–' : `${hs.reduce((a, x) => a + x[0], 0)} of ${hs.reduce((a, x) => a + x[1], 0)}`;
};
const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const loads: number[] = [];
const sampleLoad = (): void => {
  loads.push(loadavg()[0]!);
};

async function killCase(i: number): Promise<Outcome> {
  const vip = VIPS[Math.floor(i / 2) % VIPS.length]!;
  const node = NODES[i % 2]!;
  const pidfile = join(nodeRoot(node), 'run/intentlb/haproxy', `${vip.instance}.pid`);
  const pid = Number(readFileSync(pidfile, 'utf8').trim().split('\n')[0]);
  if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('haproxy'))
    throw new Error(`${pidfile}: ${pid} is no haproxy`);
  const l = load(vip.address, 4000);
  await l.started;
  await sleep(1500);
  const event = performance.timeOrigin + performance.now();
  process.kill(pid, 'SIGKILL');
  sampleLoad();
  // Only this VIP, only from this node: checked 1 s after the kill, while the hold-down runs.
  await sleep(1000);
  const others = VIPS.filter((v) => v !== vip).map((v) => v.address);
  const scoped =
    (await nexthops(vip.address)).join() === nodeAddress[NODES[(i + 1) % 2]!] &&
    (await everyVipOnBoth(others));
  const results = await l.done;
  const o = analyse(`kill ${vip.instance}@${node}`, results, event);
  // The supervisor restarts the instance; healthd announces it again after the hold-down (5 s) and rise.
  const back = await until(async () => {
    const now = Number(readFileSync(pidfile, 'utf8').trim().split('\n')[0]);
    return now !== pid && (await everyVipOnBoth([vip.address]));
  }, 60_000);
  if (!back) throw new Error(`${vip.instance} on ${node} not re-announced within 60 s of the kill`);
  if (!scoped) o.what += ' (WITHDRAW NOT SCOPED)';
  return o;
}

/** The nodes that hold `vip` on an interface other than lo (VRRP: keepalived's master). */
async function holders(vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of NODES) {
    const r = await run(IP, ['-n', ns(node), '-o', 'addr', 'show', 'to', vip]);
    if (r.out.split('\n').some((l) => l.includes(` ${vip}/`) && !/^\d+: lo /.test(l))) out.push(node);
  }
  return out;
}
const link = async (node: string, to: LinkState): Promise<void> => setLink(state, node, to);

/**
 * A node lost under load — link down or blackholed — then brought back under a second load.
 * Anycast: the nodes alternate, and the node is back when the router routes every test VIP over
 * both. VRRP: the first node (the master) is the one lost, and it is back when it holds the VIPs
 * again (it preempts).
 */
async function nodeCase(i: number, how: 'down' | 'blackhole', mode: 'anycast' | 'vrrp'): Promise<Outcome[]> {
  const node = mode === 'vrrp' ? 'lb1' : NODES[i % 2]!;
  const vip = VIPS[0]!.address;
  const lossMs = mode === 'vrrp' ? 4000 + 4000 * vrrpAdvert : 4000;
  const l = load(vip, lossMs);
  await l.started;
  await sleep(1500);
  const event = performance.timeOrigin + performance.now();
  await link(node, how);
  sampleLoad();
  const results = await l.done;
  const lost = analyse(`${mode} ${how} ${node}`, results, event);
  if (mode === 'vrrp' && !(await holders(vip)).includes('lb2')) lost.what += ' (LB2 DOES NOT HOLD THE VIP)';

  // The return, under load: `link up` 1 s in, the load ends 3 s after the node is back (a VRRP
  // router may still send to the backup's MAC for a moment after the master took over again).
  const all = VIPS.map((v) => v.address);
  const isBack =
    mode === 'vrrp'
      ? async () => (await Promise.all(all.map(holders))).every((h) => h.join() === 'lb1')
      : () => everyVipOnBoth(all);
  const r = load(vip, 120_000);
  await r.started;
  await sleep(1000);
  const upAt = performance.timeOrigin + performance.now();
  await link(node, 'up');
  const back = await until(isBack, 100_000);
  const backMs = performance.timeOrigin + performance.now() - upAt;
  await sleep(3000);
  if (r.pid !== undefined) process.kill(r.pid, 'SIGTERM');
  const ret = analyse(`${mode} ${how} ${node} return`, await r.done, upAt);
  ret.what += back ? `, back ${(backMs / 1000).toFixed(1)} s after link up` : ' (NOT BACK within 100 s)';
  if (!back) recovered = false;
  return [lost, ret];
}

async function drainCase(i: number): Promise<Outcome> {
  const node = NODES[i % 2]!;
  const vip = VIPS[0]!.address;
  const l = load(vip, 6000);
  await l.started;
  // Beside the load: HELD keep-alive connections, a request on each every 250 ms through the drain
  // and the undrain, as long-lived clients would hold them.
  const held = inNs(ns('client'), [process.execPath, PROBE, vip, '80', String(HELD), '6500', '250'], 20_000);
  await sleep(1500);
  const event = performance.timeOrigin + performance.now();
  const d = await inNs(ns(node), [
    process.execPath,
    `${ROOT}bin/intentlb.mjs`,
    'healthd',
    'drain',
    '--config',
    healthdConfig(node),
  ]);
  if (d.code !== 0) throw new Error(`drain on ${node}: ${d.out}`);
  const drainedMs = performance.timeOrigin + performance.now() - event;
  sampleLoad();
  const gone = (await nexthops(vip)).join() === nodeAddress[NODES[(i + 1) % 2]!];
  await sleep(1000);
  const u = await inNs(ns(node), [
    process.execPath,
    `${ROOT}bin/intentlb.mjs`,
    'healthd',
    'undrain',
    '--config',
    healthdConfig(node),
  ]);
  if (u.code !== 0) throw new Error(`undrain on ${node}: ${u.out}`);
  const results = await l.done;
  const h = await held;
  if (h.code !== 0) throw new Error(`keep-alive probe: ${h.out}`);
  const conns = (
    JSON.parse(h.out.split('\n').find((x) => x.startsWith('{'))!) as { connections: [string, string][] }
  ).connections;
  const kept = conns.filter(([a, b]) => a === b && /^198\./.test(a)).length;
  const o = analyse(
    `drain+undrain ${node} (drain answered in ${drainedMs.toFixed(0)} ms${gone ? '' : ', ROUTE STILL THERE'})`,
    results,
    event,
  );
  o.held = [kept, conns.length];
  if (!(await until(() => everyVipOnBoth(VIPS.map((v) => v.address)), 30_000)))
    throw new Error(`${node}: not re-announced after undrain`);
  return o;
}

const T0 = performance.now();
let recovered = true;
const table: Record<string, Outcome[]> = {};
const record = (k: string, o: Outcome): void => {
  table[k] ??= [];
  table[k]!.push(o);
  console.log(
    `  [${((performance.now() - T0) / 1000).toFixed(0)} s] ${o.what}: ${o.failed}/${o.requests} failed, window ${o.windowMs.toFixed(0)} ms, event→last failure ${o.eventToLastMs.toFixed(0)} ms${o.held === undefined ? '' : `, held connections kept ${o.held[0]}/${o.held[1]}`}  [${o.spread}]`,
  );
};
const deadline = Date.now() + 45 * 60_000;
const scratch = mkdtempSync(join(tmpdir(), 'intentlb-failover-'));

async function labUp(site: string, ready: () => Promise<boolean>): Promise<void> {
  const up = await intentlb(
    ['lab', 'up', site, '--prefix', PREFIX, '--dir', DIR, '--router', ROUTER],
    240_000,
  );
  if (up.code !== 0) throw new Error(`lab up failed:\n${up.out}`);
  console.log(up.out.trim().split('\n').slice(-2, -1).join('\n'));
  state = readState(DIR)!;
  if (!(await until(ready, 90_000))) throw new Error('the lab did not route every test VIP as expected');
}

async function nodeCases(key: string, n: number, how: 'down' | 'blackhole', mode: 'anycast' | 'vrrp') {
  console.log(`\n${mode}: node link ${how}, then up (${n} runs)`);
  for (let i = 0; i < n && recovered && Date.now() < deadline; i++) {
    const [lost, ret] = await nodeCase(i, how, mode);
    record(key, lost!);
    record(`${key} return`, ret!);
  }
}

try {
  await cleanup();
  await labUp(`${ROOT}examples/campus`, () => everyVipOnBoth(VIPS.map((v) => v.address)));
  console.log(`\nkill -9 of the VIP's HAProxy master (${runs} runs)`);
  for (let i = 0; i < runs && Date.now() < deadline; i++) record('kill', await killCase(i));
  await nodeCases('node', nodeRuns, 'down', 'anycast');
  await nodeCases('blackhole', blackholeRuns, 'blackhole', 'anycast');
  // Each drain run twice, back to back on the same node: with the lab router pinning connections
  // to their node (its default) and with its plain ECMP hash, which moves them when the VIP's
  // next hops change (src/lab/flow-pinning.ts).
  console.log(`\ndrain, then undrain (${drainRuns} runs, each pinned and plain)`);
  for (let i = 0; i < drainRuns && Date.now() < deadline; i++) {
    record('drain (router pins flows)', await drainCase(i));
    await setFlowPinning(state, false);
    try {
      record('drain (plain ECMP)', await drainCase(i));
    } finally {
      await setFlowPinning(state, true);
    }
  }

  if (vrrpRuns + vrrpBlackholeRuns > 0 && Date.now() < deadline) {
    await cleanup();
    recovered = true;
    const site = vrrpVariant(`${ROOT}examples/campus`, join(scratch, 'campus-vrrp'), vrrpAdvert);
    console.log(`\nthe same site with keepalived VRRP, advert_int ${vrrpAdvert}`);
    await labUp(site, async () => (await holders(VIPS[0]!.address)).join() === 'lb1');
    await nodeCases('vrrp node', vrrpRuns, 'down', 'vrrp');
    await nodeCases('vrrp blackhole', vrrpBlackholeRuns, 'blackhole', 'vrrp');
  }
} finally {
  await cleanup();
  rmSync(scratch, { recursive: true, force: true });
  const left = listNamespaces().filter((n) => n.startsWith(PREFIX));
  console.log(`\nlab down; namespaces left with ${PREFIX}: ${left.length === 0 ? 'none' : left.join(' ')}`);
  console.log(
    `${new Date().toISOString()}, router ${ROUTER}, ${cpus().length} cores, load (1 min) at the events ${
      loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '-'
    }, now ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    '| case | runs | failed requests (total) | window p50 | p99 | max | event→last failure max | held connections kept |',
  );
  for (const [k, os] of Object.entries(table)) {
    const w = os.map((o) => o.windowMs);
    console.log(
      `| ${k} | ${os.length} | ${os.reduce((a, o) => a + o.failed, 0)} of ${os.reduce((a, o) => a + o.requests, 0)} | ${q(w, 50).toFixed(0)} ms | ${q(w, 99).toFixed(0)} ms | ${Math.max(...w).toFixed(0)} ms | ${Math.max(...os.map((o) => o.eventToLastMs)).toFixed(0)} ms | ${held(os)} |`,
    );
  }
}
