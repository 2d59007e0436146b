// Anycast failover in the lab: the error window a client sees (first to last failed request)
// when, under a load of one new connection every 4 ms to an anycast HTTP VIP served by both LB
// nodes,
//   kill   — one node's HAProxy instance for that VIP is killed (kill -9 of its master): healthd
//            sees the pid die and withdraws the VIP (target p99 ≤ 300 ms);
//   node   — one node's link is taken down inside its namespace: BFD (50 ms × 3) removes its
//            routes at the router (target ≤ 200 ms);
//   drain  — `intentlb healthd drain` on one node, then `undrain` (target 0 failed requests).
//
//   node --import tsx bench/lab/failover.ts [--runs N] [--node-runs N] [--drain-runs N]
//
// Needs root. Brings examples/campus up in BGP mode with its own prefix (ilbf-) and lab folder,
// and always takes it down again (lab down, then a sweep of any ilbf- namespace left).
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labDown } from '../../src/lab/lab.ts';
import { IP, listNamespaces } from '../../src/lab/netns.ts';
import { sweepNamespaces } from '../../src/lab/processes.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import { unwire } from '../../src/lab/wiring.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const LOADER = new URL('./failover-loader.mjs', import.meta.url).pathname;
const PREFIX = 'ilbf-';
const DIR = defaultLabDir(PREFIX);
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
    'node-runs': { type: 'string', default: '3' },
    'drain-runs': { type: 'string', default: '3' },
  },
});
const runs = Number(values.runs);
const nodeRuns = Number(values['node-runs']);
const drainRuns = Number(values['drain-runs']);

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

async function cleanup(): Promise<void> {
  try {
    await labDown({ prefix: PREFIX, dir: DIR });
  } finally {
    const left = listNamespaces().filter((n) => n.startsWith(PREFIX));
    await sweepNamespaces(left);
    await unwire(left);
  }
}

/** Polls `fn` every 100 ms until true; false after `ms`. */
async function until(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await fn().catch(() => false)) return true;
    await sleep(100);
  }
  return false;
}

let state: LabState;
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

async function nodeCase(i: number): Promise<Outcome> {
  const node = NODES[i % 2]!;
  const vip = VIPS[0]!.address;
  const l = load(vip, 4000);
  await l.started;
  await sleep(1500);
  // Taking the link down flushes the node's routes through it, its default route too; put back
  // after link up, as the host's network configuration would (else HAProxy cannot reach its servers).
  const defaults = [
    ...(await run(IP, ['-n', ns(node), '-4', 'route', 'show', 'default'])).out
      .split('\n')
      .map((l) => ['-4', l]),
    ...(await run(IP, ['-n', ns(node), '-6', 'route', 'show', 'default'])).out
      .split('\n')
      .map((l) => ['-6', l]),
  ].filter(([, l]) => l!.startsWith('default via '));
  const event = performance.timeOrigin + performance.now();
  const down = await run(IP, ['-n', ns(node), 'link', 'set', 'eth0', 'down']);
  if (down.code !== 0) throw new Error(`link down in ${ns(node)}: ${down.out}`);
  sampleLoad();
  const results = await l.done;
  const o = analyse(`link down ${node}`, results, event);
  const up = await run(IP, ['-n', ns(node), 'link', 'set', 'eth0', 'up']);
  if (up.code !== 0) throw new Error(`link up in ${ns(node)}: ${up.out}`);
  for (const [family, line] of defaults) {
    // IPv6 needs its link-local/global addresses back (DAD) before the gateway is reachable.
    const ok = await until(
      async () =>
        (await run(IP, ['-n', ns(node), family!, 'route', 'replace', ...line!.trim().split(/\s+/)])).code ===
        0,
      5000,
    );
    if (!ok) console.log(`    ${node}: could not restore ${line}`);
  }

  // The node's BIRD waits out its `error wait time` (60 s) after a BFD-caused session down: wait
  // for it, bounded, then restart the session by hand if it did not come.
  const all = VIPS.map((v) => v.address);
  const t0 = performance.now();
  let back = await until(() => everyVipOnBoth(all), 70_000);
  let how = 'by itself';
  if (!back) {
    how = 'after `birdc restart bgp_rr1` on the node';
    const r = await inNs(ns(node), [
      'birdc',
      '-s',
      join(nodeRoot(node), 'run/intentlb/bird.ctl'),
      'restart',
      'bgp_rr1',
    ]);
    console.log(
      `    ${node}: not back within 70 s; birdc restart bgp_rr1: ${r.out.trim().split('\n').at(-1)}`,
    );
    back = await until(() => everyVipOnBoth(all), 30_000);
  }
  console.log(
    `    ${node} ${back ? 'back' : 'NOT back'} at the router ${((performance.now() - t0) / 1000).toFixed(1)} s after link up (${how})`,
  );
  if (!back) {
    // Recorded, and the node cases stop: the next one would take the only serving node away.
    o.what += ' (NOT BACK at the router after link up)';
    recovered = false;
  }
  return o;
}

async function drainCase(i: number): Promise<Outcome> {
  const node = NODES[i % 2]!;
  const vip = VIPS[0]!.address;
  const l = load(vip, 6000);
  await l.started;
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
  const o = analyse(
    `drain+undrain ${node} (drain answered in ${drainedMs.toFixed(0)} ms${gone ? '' : ', ROUTE STILL THERE'})`,
    results,
    event,
  );
  if (!(await until(() => everyVipOnBoth(VIPS.map((v) => v.address)), 30_000)))
    throw new Error(`${node}: not re-announced after undrain`);
  return o;
}

const T0 = performance.now();
let recovered = true;
const table: Record<string, Outcome[]> = { kill: [], node: [], drain: [] };
const print = (o: Outcome): void =>
  console.log(
    `  [${((performance.now() - T0) / 1000).toFixed(0)} s] ${o.what}: ${o.failed}/${o.requests} failed, window ${o.windowMs.toFixed(0)} ms, event→last failure ${o.eventToLastMs.toFixed(0)} ms  [${o.spread}]`,
  );
try {
  await cleanup();
  const up = await intentlb(
    ['lab', 'up', `${ROOT}examples/campus`, '--prefix', PREFIX, '--dir', DIR],
    240_000,
  );
  if (up.code !== 0) throw new Error(`lab up failed:\n${up.out}`);
  console.log(up.out.trim().split('\n').slice(-3).join('\n'));
  state = readState(DIR)!;
  if (!(await until(() => everyVipOnBoth(VIPS.map((v) => v.address)), 90_000))) {
    throw new Error('not every test VIP is routed over both nodes');
  }
  const deadline = Date.now() + 13 * 60_000;
  console.log(`\nkill -9 of the VIP's HAProxy master (${runs} runs)`);
  for (let i = 0; i < runs && Date.now() < deadline; i++) {
    const o = await killCase(i);
    table.kill!.push(o);
    print(o);
  }
  console.log(`\nnode link down (${nodeRuns} runs)`);
  for (let i = 0; i < nodeRuns && recovered && Date.now() < deadline; i++) {
    const o = await nodeCase(i);
    table.node!.push(o);
    print(o);
  }
  console.log(`\ndrain, then undrain (${drainRuns} runs)`);
  for (let i = 0; i < drainRuns && Date.now() < deadline; i++) {
    const o = await drainCase(i);
    table.drain!.push(o);
    print(o);
  }
} finally {
  await cleanup();
  const left = listNamespaces().filter((n) => n.startsWith(PREFIX));
  console.log(`\nlab down; namespaces left with ${PREFIX}: ${left.length === 0 ? 'none' : left.join(' ')}`);
  console.log(
    `${new Date().toISOString()}, ${cpus().length} cores, load (1 min) at the events ${
      loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '-'
    }, now ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log('| case | runs | failed requests (total) | window p50 | p99 | max | event→last failure max |');
  for (const [k, os] of Object.entries(table)) {
    if (os.length === 0) continue;
    const w = os.map((o) => o.windowMs);
    console.log(
      `| ${k} | ${os.length} | ${os.reduce((a, o) => a + o.failed, 0)} of ${os.reduce((a, o) => a + o.requests, 0)} | ${q(w, 50).toFixed(0)} ms | ${q(w, 99).toFixed(0)} ms | ${Math.max(...w).toFixed(0)} ms | ${Math.max(...os.map((o) => o.eventToLastMs)).toFixed(0)} ms |`,
    );
  }
}
