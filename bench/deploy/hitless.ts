// Hitless reloads: wrk sends requests through one VIP to a backend while the VIP's HAProxy is
// reloaded again and again, three ways side by side: ours (master-worker, `reload` on the master
// socket, as `src/deploy/instance-actions.ts` does), a naive restart (stop, start) and a legacy
// `-sf` reload (new standalone process, no fd passing). Counts failed requests per way and
// connection mode, and the workers left 2 s after the last reload. Everything runs in a throwaway
// network namespace with 198.18.0.0/15 addresses; each case stops reloading after 1.8 times its
// nominal time (count / rate).
//
// Usage: node --import tsx bench/deploy/hitless.ts [--reloads 1000] [--other-reloads 100]
//   [--rate 10] [--connections 64] [--threads 2] [--methods ours,naive,legacy] [--modes close,keepalive]
//   [--haproxy-log <file>]   (every HAProxy's stderr: reloads, worker exits)
//   [--without expose-fd,idle-close]   (take that part out of the generated configuration, to see
//   what it does)
// A quick run (~1 min): --reloads 50 --other-reloads 20
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderSite, writeFiles } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import {
  addLoopbackAddresses,
  addNamespace,
  deleteNamespace,
  nsExec,
  stopProcess,
  uniqueName,
} from '../../src/lab/netns.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { NodeLayout } from '../../src/render/types.ts';
import { HaproxyClient } from '../../src/runtime/haproxy-client.ts';
import { LegacySf, MasterReload, NaiveRestart, Processes, type Reloader } from './instances.ts';
import { startWrk, type WrkResult } from './wrk.ts';

const { values: opt } = parseArgs({
  options: {
    reloads: { type: 'string', default: '1000' },
    'other-reloads': { type: 'string', default: '100' },
    rate: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    methods: { type: 'string', default: 'ours,naive,legacy' },
    modes: { type: 'string', default: 'close,keepalive' },
    'haproxy-log': { type: 'string' },
    without: { type: 'string', default: '' },
  },
});

function positive(name: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw new Error(`--${name}: expected 0 < n ≤ ${max}, got ${text}`);
  return n;
}

const RATE = positive('rate', opt.rate, 100);
const RELOADS = { ours: Math.floor(positive('reloads', opt.reloads, 5000)) } as Record<Method, number>;
RELOADS.naive = RELOADS.legacy = Math.floor(positive('other-reloads', opt['other-reloads'], 5000));
const CONNECTIONS = Math.floor(positive('connections', opt.connections, 10_000));
const THREADS = Math.floor(positive('threads', opt.threads, 64));

type Method = 'ours' | 'naive' | 'legacy';
type Mode = 'close' | 'keepalive';
const METHODS = opt.methods.split(',').filter((m): m is Method => ['ours', 'naive', 'legacy'].includes(m));
const MODES = opt.modes.split(',').filter((m): m is Mode => m === 'close' || m === 'keepalive');

/** Parts of the generated configuration that `--without` can take out, to measure what they do. */
const WITHOUT: Record<string, (cfg: string) => string> = {
  'expose-fd': (cfg) => cfg.replace(/ expose-fd listeners$/m, ''),
  'idle-close': (cfg) => cfg.replace(/^ {4}option idle-close-on-response\n/m, ''),
};
const DROPPED = opt.without === '' ? [] : opt.without.split(',');
for (const d of DROPPED) {
  if (WITHOUT[d] === undefined)
    throw new Error(`--without: unknown ${d} (${Object.keys(WITHOUT).join(', ')})`);
}

const LABEL: Record<Method, string> = {
  ours: 'ours: master-worker, `reload` on the master socket',
  naive: 'naive restart: stop (SIGUSR1, wait), start',
  legacy: 'legacy: new standalone process `-sf <oldpid>`, no `-x`',
};

const VIP = '198.18.100.10';
const NODE = '198.18.0.11';
const APP = ['198.18.1.1', '198.18.1.2'];
/** wrk runs this long before the first reload, and this long after the last one. */
const WARMUP_S = 2;
const TAIL_S = 3;
/**
 * A confirmed reload can take longer than 1/rate on a busy machine: a case may take this many times
 * its nominal time, then it stops reloading and reports how many reloads it did.
 */
const SLACK = 1.8;

const root = mkdtempSync(join(tmpdir(), 'intentlb-hitless-'));
const ns = uniqueName('ilbh');
const procs = new Processes(ns, opt['haproxy-log']);
const loadGenerators: ChildProcess[] = [];
let aborted = false;
process.once('SIGINT', () => {
  aborted = true;
  for (const c of loadGenerators) c.kill('SIGTERM');
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A one-service site, rendered by our own renderer: the instance configuration is the real one. */
async function renderInstance(): Promise<{ layout: NodeLayout; instance: string }> {
  const site = join(root, 'site');
  mkdirSync(join(site, 'services', 'web'), { recursive: true });
  writeFileSync(
    join(site, 'site.yaml'),
    [
      'site: hitless',
      'nodes:',
      `  - { name: lb1, address: ${NODE} }`,
      '  - { name: lb2, address: 198.18.0.12 }',
      'ha: { mode: anycast, bgp: { local_as: 65001, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }] } }',
      'instances: per-vip',
      'teams:',
      '  web: { path: web, vip_pools: [198.18.100.0/24], ports: [80] }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(site, 'inventory.yaml'),
    ['groups:', '  app:', '    hosts:', ...APP.map((a, i) => `      app${i + 1}: ${a}`), ''].join('\n'),
  );
  writeFileSync(
    join(site, 'services', 'web', 'www.yaml'),
    [
      'fqdn: www.bench.example',
      `vip: ${VIP}`,
      'backend: { group: app, port: 8080, check: { path: /health } }',
      'monitoring: { contacts: [web-oncall] }',
      '',
    ].join('\n'),
  );
  const loaded = load(diskFs(site));
  const compiled = await compile(loaded.value, { now: new Date() });
  const error = compiled.diagnostics.find((d) => d.severity === 'error');
  if (!compiled.model || error) throw new Error(`bench site: ${error?.message ?? 'no model'}`);
  const layout: NodeLayout = { etc: join(root, 'etc'), run: join(root, 'run'), state: join(root, 'state') };
  for (const d of [layout.run, layout.state]) mkdirSync(join(d, 'haproxy'), { recursive: true });
  const node = renderSite(compiled.model, loaded.value.sources, loaded.value.certs, layout).find(
    (n) => n.name === 'lb1',
  );
  writeFiles(layout.etc, node!.files);
  const instance = compiled.model.instances[0]!.name;
  const path = join(layout.etc, 'haproxy', `${instance}.cfg`);
  let cfg = readFileSync(path, 'utf8');
  for (const d of DROPPED) {
    const before = cfg;
    cfg = WITHOUT[d]!(cfg);
    if (cfg === before) throw new Error(`--without ${d}: not in the generated configuration`);
  }
  writeFileSync(path, cfg);
  return { layout, instance };
}

/** The backend: a standalone HAProxy answering 200 itself on both servers' addresses; never reloaded. */
async function startBackend(): Promise<void> {
  const socket = join(root, 'app.sock');
  const cfg = join(root, 'app.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '    nbthread 1',
      '    maxconn 9000',
      `    stats socket ${socket} mode 600 level admin`,
      'defaults',
      '    mode http',
      '    timeout connect 5s',
      '    timeout client 30s',
      '    timeout server 30s',
      'frontend app',
      ...APP.map((a) => `    bind ${a}:8080`),
      '    http-request return status 200 content-type text/plain string ok',
      '',
    ].join('\n'),
  );
  const child = procs.spawn('haproxy', ['-f', cfg]);
  const admin = new HaproxyClient({ path: socket }, { timeoutMs: 1000 });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('backend haproxy exited');
    try {
      if (Number((await admin.showInfo()).Pid) === child.pid) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('backend haproxy did not start in 10 s');
    await sleep(50);
  }
}

interface Row {
  method: Method;
  mode: Mode;
  planned: number;
  reloads: number;
  reloadErrors: number;
  firstReloadError: string;
  reloadsPerSecond: number;
  reloadMs: number[];
  wrk: WrkResult;
  workersAfter2s: number;
}

async function runCase(make: () => Reloader, method: Method, mode: Mode): Promise<Row> {
  const planned = RELOADS[method];
  const reloader = make();
  await reloader.start();
  try {
    const wrk = startWrk(ns, {
      url: `http://${VIP}/`,
      seconds: Math.ceil(WARMUP_S + (SLACK * planned) / RATE + TAIL_S + 5),
      threads: THREADS,
      connections: CONNECTIONS,
      close: mode === 'close',
    });
    loadGenerators.push(wrk.child);
    const result = wrk.done.catch((err: unknown) => err as Error);
    await sleep(WARMUP_S * 1000);
    // Bounded twice: by count, and by time (well before wrk's own end).
    const t0 = Date.now();
    const deadline = t0 + ((SLACK * planned) / RATE) * 1000;
    const reloadMs: number[] = [];
    let reloadErrors = 0;
    let firstReloadError = '';
    let done = 0;
    while (done < planned && Date.now() < deadline && !aborted && wrk.child.exitCode === null) {
      const due = t0 + (done * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      const started = Date.now();
      try {
        await reloader.reload();
        reloadMs.push(Date.now() - started);
      } catch (err) {
        reloadErrors++;
        if (firstReloadError === '') firstReloadError = (err as Error).message;
      }
      done++;
    }
    const lastReload = Date.now();
    const reloadsPerSecond = done / ((lastReload - t0) / 1000);
    await sleep(2000);
    const workersAfter2s = await reloader.workers();
    await sleep((TAIL_S - 2) * 1000);
    wrk.stop();
    const outcome = await result;
    if (outcome instanceof Error) throw outcome;
    return {
      method,
      mode,
      planned,
      reloads: done,
      reloadErrors,
      firstReloadError,
      reloadsPerSecond,
      reloadMs,
      wrk: outcome,
      workersAfter2s,
    };
  } finally {
    await reloader.stop();
  }
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

function printTable(rows: readonly Row[]): void {
  console.log(
    '| method | connections | reloads (achieved rate) | requests | failed | of which connect / read / write / timeout / non-2xx-3xx | request rate | workers 2 s after the last reload |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const e = r.wrk.errors;
    const errs = r.reloadErrors > 0 ? `; ${r.reloadErrors} reloads failed` : '';
    console.log(
      [
        '',
        LABEL[r.method],
        r.mode === 'close' ? 'new per request (`Connection: close`)' : 'keep-alive',
        `${n(r.reloads)} of ${n(r.planned)} (${r.reloadsPerSecond.toFixed(1)}/s)${errs}`,
        n(r.wrk.requests),
        r.wrk.failed === 0 ? '**0**' : `**${n(r.wrk.failed)}**`,
        `${n(e.connect)} / ${n(e.read)} / ${n(e.write)} / ${n(e.timeout)} / ${n(e.status)}`,
        `${n(r.wrk.requestsPerSecond)}/s`,
        String(r.workersAfter2s),
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }
  console.log('\nReload or restart time (until the new generation answers), p50 / p99 / max:');
  for (const r of rows) {
    console.log(
      `- ${r.method} ${r.mode}: ${percentile(r.reloadMs, 50)} / ${percentile(r.reloadMs, 99)} / ${Math.max(...r.reloadMs)} ms${r.firstReloadError ? `; first reload error: ${r.firstReloadError}` : ''}`,
    );
  }
}

try {
  const started = Date.now();
  const version = execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0];
  // `wrk -v` prints its version and exits 1.
  const wrkVersion = spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split(' [')[0];
  console.log(
    `Machine: ${cpus()[0]?.model}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}; Node ${process.version}; ${version}; ${wrkVersion}`,
  );
  console.log(
    `wrk: ${THREADS} threads, ${CONNECTIONS} connections; reloads at ${RATE}/s; ours ${RELOADS.ours}, naive and legacy ${RELOADS.naive} each.${DROPPED.length > 0 ? ` Configuration without: ${DROPPED.join(', ')}.` : ''}\n`,
  );
  const { layout, instance } = await renderInstance();
  addNamespace(ns);
  addLoopbackAddresses(ns, [VIP, NODE, ...APP]);
  // In this namespace only: one client address makes ~10k new connections a second, and its
  // TIME_WAIT sockets would fill the default 28k ephemeral ports in seconds, after which connect()
  // searches for a free port and the rate falls to a few hundred a second. The range stays above
  // the listeners' ports (8080, 8999, stats 20000-29999) so a restarted HAProxy can always bind.
  nsExec(ns, 'sysctl', ['-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=30000 65535']);
  await startBackend();
  const make: Record<Method, () => Reloader> = {
    ours: () => new MasterReload(procs, layout, instance),
    naive: () => new NaiveRestart(procs, layout, instance),
    legacy: () => new LegacySf(procs, layout, instance, join(root, 'legacy.cfg')),
  };
  const rows: Row[] = [];
  for (const method of METHODS) {
    for (const mode of MODES) {
      if (aborted) break;
      process.stderr.write(`${method} ${mode}: ${RELOADS[method]} reloads...\n`);
      procs.label = `${method} ${mode}`;
      rows.push(await runCase(make[method], method, mode));
    }
  }
  printTable(rows);
  console.log(
    procs.abnormal.size === 0
      ? '\nNo HAProxy process or worker ended abnormally.'
      : `\nAbnormal ends of HAProxy processes (times):\n${[...procs.abnormal].map(([what, n]) => `- ${what} (${n})`).join('\n')}`,
  );
  console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(0)} s.`);
} finally {
  await Promise.all(loadGenerators.map((c) => stopProcess(c)));
  await procs.stopAll();
  deleteNamespace(ns);
  rmSync(root, { recursive: true, force: true });
}
