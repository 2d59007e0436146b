/**
 * Benchmark (not a test) of the real `intentlb healthd` process, as the supervisor starts it on a
 * node: 750 VIPs, each checked once a second over HTTP against a real HAProxy `monitor-uri`, every
 * VIP announced through a real BIRD (750 static protocols, no BGP peer, no kernel protocol: it
 * touches no route). Measures, for 10 s once every VIP is announced: checks per second (from the
 * daemon's own metrics), the daemon's CPU (utime + stime from /proc) and its RSS (and the peak).
 *
 *   node --import tsx bench/healthd/daemon.ts [--vips N] [--seconds S]
 *
 * The bundle is rebuilt first (what `npm ci` leaves on a node). The daemon is pinned to CPU 0,
 * HAProxy and BIRD to the last CPU. Target (issue #6): 750
 * checks/s at ≤ 10 % of one core and ≤ 100 MB RSS.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BirdClient } from '../../src/runtime/bird-client.ts';
import { monitorHaproxyConfig } from './monitor-haproxy.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    vips: { type: 'string', default: '750' },
    seconds: { type: 'string', default: '10' },
    command: { type: 'string', default: 'bin/intentlb.mjs' },
    /** Extra node options for the daemon, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
    'node-options': { type: 'string', default: '' },
  },
});
const VIPS = Number(values.vips);
const SECONDS = Number(values.seconds);
const nproc = cpus().length;
const TASKSET = '/usr/bin/taskset';
const pin = (cpu: number): string[] =>
  nproc >= 2 && existsSync(TASKSET) ? [TASKSET, '-c', String(cpu)] : [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const HZ = 100; // USER_HZ, what /proc/<pid>/stat counts in

const dir = mkdtempSync(join(tmpdir(), 'intentlb-healthd-bench-'));
const children: ChildProcess[] = [];
function start(argv: string[], name: string): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited (${code ?? signal}): ${err}`);
  });
  children.push(child);
  return child;
}
let stopping = false;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
function memKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}
function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}
const sum = (text: string, name: string): number =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

try {
  // What a node runs: the bundled launcher entry (bin/intentlb.mjs falls back to tsx when stale).
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs')], { stdio: 'inherit' });
  const haproxyPort = 20_000 + (process.pid % 10_000);
  const metricsPort = haproxyPort + 1;
  const path = '/_intentlb/health';
  writeFileSync(join(dir, 'haproxy.cfg'), monitorHaproxyConfig(haproxyPort, path));
  const haproxy = start([...pin(nproc - 1), 'haproxy', '-db', '-f', join(dir, 'haproxy.cfg')], 'haproxy');
  writeFileSync(join(dir, 'haproxy.pid'), `${haproxy.pid}\n`);

  const bird: string[] = ['router id 198.18.0.11;', ''];
  const vips: string[] = [];
  for (let i = 0; i < VIPS; i++) {
    const prefix = `198.18.${100 + Math.floor(i / 250)}.${i % 250}/32`;
    bird.push(`protocol static vip_${i} {`, '  disabled;', '  ipv4;', `  route ${prefix} blackhole;`, '}');
    vips.push(
      `  - { name: vip${i}, prefixes: [${prefix}], protocols: [vip_${i}], check: { kind: http, address: 127.0.0.1, port: ${haproxyPort}, path: ${path} }, interval_ms: 1000, timeout_ms: 1000, rise: 2, fall: 3, hold_down_ms: 5000, pidfile: haproxy.pid }`,
    );
  }
  writeFileSync(join(dir, 'bird.conf'), `${bird.join('\n')}\n`);
  const birdSocket = join(dir, 'bird.ctl');
  start([...pin(nproc - 1), 'bird', '-f', '-c', join(dir, 'bird.conf'), '-s', birdSocket], 'bird');
  writeFileSync(
    join(dir, 'healthd.yaml'),
    [
      'node: bench',
      'mode: anycast',
      'bird: { socket: bird.ctl }',
      'control: healthd.sock',
      `listen: { address: 127.0.0.1, port: ${metricsPort} }`,
      'vips:',
      ...vips,
      '',
    ].join('\n'),
  );
  for (let i = 0; i < 100 && !existsSync(birdSocket); i++) await sleep(50);

  const t0 = performance.now();
  const daemon = start(
    [
      ...pin(0),
      process.execPath,
      ...values['node-options'].split(' ').filter((x) => x !== ''),
      join(ROOT, values.command),
      'healthd',
      '--config',
      join(dir, 'healthd.yaml'),
    ],
    'healthd',
  );
  const pid = daemon.pid!;
  // Every VIP announced: all 750 static protocols up in BIRD.
  let up = 0;
  for (let i = 0; i < 600 && up < VIPS; i++) {
    await sleep(100);
    try {
      const c = await BirdClient.connect(birdSocket, { timeoutMs: 2000 });
      try {
        up = (await c.showProtocols()).filter((p) => p.name.startsWith('vip_') && p.state === 'up').length;
      } finally {
        c.close();
      }
    } catch {
      up = 0;
    }
  }
  if (up < VIPS) throw new Error(`only ${up} of ${VIPS} VIPs announced after 60 s`);
  const announcedS = (performance.now() - t0) / 1000;
  await sleep(2000);

  const m0 = await metrics(metricsPort);
  const c0 = cpuTicks(pid);
  const w0 = performance.now();
  const rss: number[] = [];
  while (performance.now() - w0 < SECONDS * 1000) {
    await sleep(500);
    rss.push(memKiB(pid, 'VmRSS'));
  }
  const c1 = cpuTicks(pid);
  const m1 = await metrics(metricsPort);
  const wall = (performance.now() - w0) / 1000;
  const checks = sum(m1, 'intentlb_healthd_checks_total') - sum(m0, 'intentlb_healthd_checks_total');
  const cpuPct = ((c1 - c0) / HZ / wall) * 100;
  const mib = (k: number): string => (k / 1024).toFixed(0);
  console.log(`healthd daemon (${values.command}), ${VIPS} VIPs × 1/s, ${SECONDS} s measured`);
  console.log(`  ${execFileSync('haproxy', ['-v']).toString().split('\n')[0]}; node ${process.version}`);
  console.log(`  every VIP announced ${announcedS.toFixed(1)} s after start`);
  console.log(`  checks/s ${(checks / wall).toFixed(0)}, CPU ${cpuPct.toFixed(1)} % of one core`);
  console.log(
    `  RSS median ${mib(rss.sort((a, b) => a - b)[Math.floor(rss.length / 2)]!)} MiB, max ${mib(Math.max(...rss))} MiB, peak since start (VmHWM) ${mib(memKiB(pid, 'VmHWM'))} MiB`,
  );
  console.log(
    `  ${new Date().toISOString()}, ${nproc} cores, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
} finally {
  stopping = true;
  // healthd first (it withdraws and exits; a CPU profile is written then), then BIRD and HAProxy.
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
  }
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (process.env.KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
