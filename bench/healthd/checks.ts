/**
 * Benchmark (not a test) of healthd's in-process checks against a local monitor endpoint:
 *   (a) the most HTTP checks per second one core runs, N checks in flight, ~5 s per N;
 *   (b) CPU and RSS of the whole checking path (scheduler + checks + decision core) for 750 VIPs
 *       checked once a second, ~10 s.
 * The server is a real `haproxy` with a `monitor-uri` frontend when /usr/sbin/haproxy exists (what
 * production checks hit), else a tiny raw server; either runs in its own process, pinned to
 * another CPU when there is one, so only the checker's cost is measured.
 *
 *   node --import tsx bench/healthd/checks.ts [--quick]
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpCheck, runCheck } from '../../src/healthd/checks.ts';
import { decideBatch, initialState } from '../../src/healthd/core.ts';
import { DEFAULT_REUSE_MS } from '../../src/healthd/kept-http.ts';
import { Scheduler } from '../../src/healthd/scheduler.ts';
import { systemTimers } from '../../src/healthd/timers.ts';
import type { HealthdEvent, HttpCheckSpec, VipConfig } from '../../src/healthd/types.ts';
import { monitorHaproxyConfig } from './monitor-haproxy.ts';

const HAPROXY = '/usr/sbin/haproxy';
const PATH = '/.intentlb/health';
const quick = process.argv.includes('--quick');
const MAX_SECONDS = quick ? 1 : 5;
const STEADY_SECONDS = quick ? 2 : 10;
const CONCURRENCY = [16, 64, 256];
const VIPS = 750;

const nproc = cpus().length;
const pinned = nproc >= 2 && existsSync('/usr/bin/taskset');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function startServer(port: number, dir: string): Promise<{ kind: string; child: ChildProcess }> {
  const prefix = pinned ? ['/usr/bin/taskset', '-c', String(nproc - 1)] : [];
  let argv: string[];
  let kind: string;
  if (existsSync(HAPROXY)) {
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, monitorHaproxyConfig(port, PATH));
    argv = [...prefix, HAPROXY, '-db', '-f', cfg];
    kind = execFileSync(HAPROXY, ['-v']).toString().split('\n')[0] ?? 'haproxy';
  } else {
    const script =
      "require('net').createServer(s=>{s.on('error',()=>{});s.once('data',()=>" +
      `s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n'))}).listen(${port},'127.0.0.1')`;
    argv = [...prefix, process.execPath, '-e', script];
    kind = 'raw node:net server (no haproxy installed)';
  }
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  for (let i = 0; i < 100 && !exited; i++) {
    const r = await httpCheck({ address: '127.0.0.1', port, path: PATH, timeoutMs: 200 });
    if (r.ok) return { kind, child };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('monitor server did not come up');
}

/**
 * (a) Closed loop: `concurrency` checks always in flight for `seconds`; `kept`: each in-flight
 * slot is one VIP whose checks reuse a keep-alive connection (what the daemon does by default).
 */
async function maxRate(port: number, concurrency: number, seconds: number, kept = false) {
  let done = 0;
  let failed = 0;
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  async function worker(): Promise<void> {
    const spec: HttpCheckSpec = { kind: 'http', address: '127.0.0.1', port, path: PATH, reuseMs: 30_000 };
    while (performance.now() < end) {
      const r = kept
        ? await runCheck(spec, 2000)
        : await httpCheck({ address: '127.0.0.1', port, path: PATH, timeoutMs: 2000 });
      done++;
      if (!r.ok) failed++;
      if (done % 16 === 0) latencies.push(r.latencyMs);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    rate: done / wall,
    failed,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}

/** (b) 750 VIPs once a second through scheduler, checks and decision core. */
async function steady(port: number, seconds: number) {
  const vips: VipConfig[] = Array.from({ length: VIPS }, (_, i) => ({
    name: `vip${i}`,
    prefixes: [`198.18.${100 + Math.floor(i / 250)}.${i % 250}/32`],
    protocols: [`vip${i}`],
    check: { kind: 'http', address: '127.0.0.1', port, path: PATH, reuseMs: DEFAULT_REUSE_MS },
    intervalMs: 1000,
    timeoutMs: 1000,
    rise: 2,
    fall: 3,
    holdDownMs: 5000,
  }));
  const rssBeforeMiB = process.memoryUsage().rss / 2 ** 20;
  let state = initialState(vips, systemTimers.now());
  state = decideBatch(state, [{ type: 'bird-up' }], systemTimers.now()).state;
  let queue: HealthdEvent[] = [];
  let checks = 0;
  let failed = 0;
  let birdActions = 0;
  const flush = () => {
    const events = queue;
    queue = [];
    const d = decideBatch(state, events, systemTimers.now());
    state = d.state;
    for (const a of d.actions) if (a.type === 'bird') birdActions++;
  };
  const scheduler = new Scheduler({
    timers: systemTimers,
    onResult: (vip, o, startedAt) => {
      checks++;
      if (!o.ok) failed++;
      if (queue.length === 0) setImmediate(flush);
      queue.push({ type: 'check-result', vip, ok: o.ok, latencyMs: o.latencyMs, startedAt });
    },
  });
  scheduler.update(vips);
  await sleep(1500); // warm-up: every VIP has run once
  const checks0 = checks;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const done = checks - checks0;
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  scheduler.stop();
  const announced = [...state.vips.values()].filter((v) => v.announced).length;
  return {
    rate: done / wall,
    failed,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
    rssMiB,
    rssBeforeMiB,
    announced,
    birdActions,
  };
}

/** What one fully busy core would do at this cost per check. */
function perCpuSecond(rate: number, cpuPct: number): string {
  return cpuPct > 0 ? (rate / (cpuPct / 100)).toFixed(0) : '-';
}

async function main(): Promise<void> {
  if (pinned)
    execFileSync('/usr/bin/taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'intentlb-healthd-bench-'));
  const port = await freePort();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(port, dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const cleanup = () => {
    server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const rows: string[] = [];
    // The steady run goes first, so its RSS is not inflated by the max-rate runs.
    const s = await steady(port, STEADY_SECONDS);
    rows.push(
      `| ${VIPS} VIPs × 1/s (scheduler + checks + core), ${STEADY_SECONDS} s | ${s.rate.toFixed(0)} checks/s | ` +
        `${s.cpuPct.toFixed(1)} % | ${perCpuSecond(s.rate, s.cpuPct)} | RSS ${s.rssMiB.toFixed(0)} MiB ` +
        `(${s.rssBeforeMiB.toFixed(0)} MiB before: node + tsx), ` +
        `${s.failed} failed, ${s.announced} announced, ${s.birdActions} bird actions |`,
    );
    for (const [n, kept] of CONCURRENCY.flatMap((c) => [[c, false] as const, [c, true] as const])) {
      const r = await maxRate(port, n, MAX_SECONDS, kept);
      const how = kept ? 'kept connections' : 'a connection per check';
      rows.push(
        `| max rate, ${n} in flight, ${how}, ${MAX_SECONDS} s | ${r.rate.toFixed(0)} checks/s | ${r.cpuPct.toFixed(0)} % | ` +
          `${perCpuSecond(r.rate, r.cpuPct)} | p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
          `${r.failed} failed |`,
      );
    }
    const cmd = `node --import tsx bench/healthd/checks.ts${quick ? ' --quick' : ''}`;
    console.log(`\n### healthd checks\n`);
    console.log(`\`${cmd}\` — ${cpus()[0]?.model ?? 'unknown CPU'}, nproc ${nproc}, node ${process.version}`);
    console.log(
      `server: ${server.kind}${pinned ? `; checker pinned to CPU 0, server to CPU ${nproc - 1}` : ''}\n`,
    );
    console.log('| run | rate | checker CPU (of one core) | checks per CPU-second | notes |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(r);
  } finally {
    cleanup();
  }
}

await main();
