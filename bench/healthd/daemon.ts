/**
 * Benchmark (not a test) of the real `intentlb healthd` process, as the supervisor starts it on a
 * node: 750 VIPs, each checked once a second over HTTP against a real HAProxy `monitor-uri`, every
 * VIP announced through a real BIRD (750 static protocols, no BGP peer, no kernel protocol: it
 * touches no route). As on a node with one HAProxy per VIP, each VIP has its own pid file naming
 * its own live process (a `sleep` standing in for the instance's master: healthd probes it ten
 * times a second), while every check goes to the one real HAProxy. Measures, once every VIP is announced, in `--rounds` windows of `--seconds`:
 * checks per second (from the daemon's own metrics), the daemon's CPU (utime + stime from /proc,
 * all threads) and its RSS (sampled every 0.5 s, and the peak).
 *
 *   node --import tsx bench/healthd/daemon.ts [--vips N] [--seconds S] [--rounds R]
 *        [--daemon 'label=[env:KEY=VALUE ...] [check:key=value ...] launcher [node option ...]'] ...
 *        [--floor]
 *
 * Several `--daemon`s run side by side, each with its own BIRD, all checking the same HAProxy and
 * all pinned to the same CPU, so they share whatever else the machine does: compare them within
 * one run, not across runs (on a shared machine the same daemon measures ±2 points of CPU from one
 * hour to the next). The default is the one the unit starts: `bin/intentlb.mjs` with the unit's
 * node options and environment (src/deploy/services/healthd.ts); a `--daemon` gets only the environment its
 * `env:` words give; `check:` words add to every VIP's check (e.g. `check:reuse_ms=0`: a new
 * connection per check). A launcher is a path relative to this
 * checkout or absolute (e.g. another checkout's bin/intentlb.mjs, with its bundle built:
 * `node scripts/bundle.mjs` there). This checkout's bundle is rebuilt first (what `npm ci` leaves on
 * a node). Daemons run on CPU 0, HAProxy and the BIRDs on the last CPU. Target (issue #6): 750
 * checks/s at ≤ 10 % of one core and ≤ 100 MB RSS. `--floor` adds, on the same CPU, the same
 * checks done the cheapest way node:net allows with nothing around them (bench/healthd/floor.mjs):
 * what one new TCP connection per check costs by itself.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { HEALTHD_ENV, HEALTHD_NODE_OPTIONS } from '../../src/deploy/services/index.ts';
import { BirdClient } from '../../src/runtime/bird-client.ts';
import { monitorHaproxyConfig } from './monitor-haproxy.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    vips: { type: 'string', default: '750' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    daemon: { type: 'string', multiple: true },
    /** Also run bench/healthd/floor.mjs: the same checks with nothing around them. */
    floor: { type: 'boolean', default: false },
  },
});
const VIPS = Number(values.vips);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const nproc = cpus().length;
const TASKSET = '/usr/bin/taskset';
const pin = (cpu: number): string[] =>
  nproc >= 2 && existsSync(TASKSET) ? [TASKSET, '-c', String(cpu)] : [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const HZ = 100; // USER_HZ, what /proc/<pid>/stat counts in

interface DaemonSpec {
  label: string;
  launcher: string;
  nodeOptions: string[];
  /** The `env:KEY=VALUE` words of the --daemon value (nothing else is added to this environment). */
  env: Record<string, string>;
  /** The `check:key=value` words: added to every VIP's `check` in its healthd.yaml. */
  check: Record<string, string>;
}
/** What the unit starts: its environment and node options (src/deploy/services/healthd.ts). */
const unitDaemon = [
  'intentlb=',
  ...Object.entries(HEALTHD_ENV).map(([k, v]) => `env:${k}=${v} `),
  `bin/intentlb.mjs ${HEALTHD_NODE_OPTIONS.join(' ')}`,
].join('');
const specs: DaemonSpec[] = (values.daemon ?? [unitDaemon]).map((text) => {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--daemon ${text}: expected label=launcher [node option ...]`);
  const words = text
    .slice(eq + 1)
    .split(' ')
    .filter((x) => x !== '');
  /** The `<prefix>KEY=VALUE` words as a record. */
  const prefixed = (prefix: string): Record<string, string> =>
    Object.fromEntries(
      words
        .filter((w) => w.startsWith(prefix))
        .map((w) => [w.slice(prefix.length, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
    );
  const env = prefixed('env:');
  const check = prefixed('check:');
  const [launcher, ...nodeOptions] = words.filter((w) => !w.startsWith('env:') && !w.startsWith('check:'));
  if (launcher === undefined) throw new Error(`--daemon ${text}: no launcher`);
  return {
    label: text.slice(0, eq),
    launcher: isAbsolute(launcher) ? launcher : join(ROOT, launcher),
    nodeOptions,
    env,
    check,
  };
});

const dir = mkdtempSync(join(tmpdir(), 'intentlb-healthd-bench-'));
const children: ChildProcess[] = [];
let stopping = false;
let standInPids: number[] = [];
function start(argv: string[], name: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: env ?? process.env,
  });
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

/** utime and stime of a process (all its threads), in ticks. */
function cpuTicks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) };
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
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};

/** A measured process: CPU per round (all, user, system) and RSS samples. */
interface Sampled {
  pid: number;
  cpu: number[];
  user: number[];
  sys: number[];
  rss: number[];
}
const sampled = (pid: number): Sampled => ({ pid, cpu: [], user: [], sys: [], rss: [] });

interface Running extends Sampled {
  spec: DaemonSpec;
  metricsPort: number;
  birdSocket: string;
  announcedS: number;
  rate: number[];
}

async function announced(socket: string): Promise<number> {
  try {
    const c = await BirdClient.connect(socket, { timeoutMs: 2000 });
    try {
      return (await c.showProtocols()).filter((p) => p.name.startsWith('vip_') && p.state === 'up').length;
    } finally {
      c.close();
    }
  } catch {
    return 0;
  }
}

try {
  // What a node runs: the bundled launcher entry (bin/intentlb.mjs falls back to tsx when stale).
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs')], { stdio: 'inherit' });
  const haproxyPort = 20_000 + (process.pid % 10_000);
  const path = '/_intentlb/health';
  writeFileSync(join(dir, 'haproxy.cfg'), monitorHaproxyConfig(haproxyPort, path));
  const haproxy = start([...pin(nproc - 1), 'haproxy', '-db', '-f', join(dir, 'haproxy.cfg')], 'haproxy');
  writeFileSync(join(dir, 'haproxy.pid'), `${haproxy.pid}\n`);
  // One stand-in process and pid file per VIP.
  const standIns = spawn('bash', ['-c', `for i in $(seq ${VIPS}); do sleep 3600 & echo $!; done; wait`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(standIns);
  let pidText = '';
  standIns.stdout!.on('data', (d: Buffer) => {
    pidText += d.toString();
  });
  for (let k = 0; k < 200 && pidText.split('\n').length <= VIPS; k++) await sleep(50);
  standInPids = pidText
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  if (standInPids.length !== VIPS)
    throw new Error(`started ${standInPids.length} of ${VIPS} stand-in processes`);
  mkdirSync(join(dir, 'pids'));
  for (const [i, pid] of standInPids.entries()) writeFileSync(join(dir, 'pids', `vip${i}.pid`), `${pid}\n`);

  const birdConf: string[] = ['router id 198.18.0.11;', ''];
  const vips: string[] = [];
  for (let i = 0; i < VIPS; i++) {
    const prefix = `198.18.${100 + Math.floor(i / 250)}.${i % 250}/32`;
    birdConf.push(
      `protocol static vip_${i} {`,
      '  disabled;',
      '  ipv4;',
      `  route ${prefix} blackhole;`,
      '}',
    );
    vips.push(
      `  - { name: vip${i}, prefixes: [${prefix}], protocols: [vip_${i}], check: { kind: http, address: 127.0.0.1, port: ${haproxyPort}, path: ${path}CHECK_EXTRA }, interval_ms: 1000, timeout_ms: 1000, rise: 2, fall: 3, hold_down_ms: 5000, pidfile: ../pids/vip${i}.pid }`,
    );
  }
  writeFileSync(join(dir, 'bird.conf'), `${birdConf.join('\n')}\n`);

  const running: Running[] = [];
  for (const [i, spec] of specs.entries()) {
    const sub = join(dir, `d${i}`);
    mkdirSync(sub);
    const birdSocket = join(sub, 'bird.ctl');
    start(
      [...pin(nproc - 1), 'bird', '-f', '-c', join(dir, 'bird.conf'), '-s', birdSocket],
      `bird ${spec.label}`,
    );
    const metricsPort = haproxyPort + 1 + i;
    writeFileSync(
      join(sub, 'healthd.yaml'),
      [
        `node: bench${i}`,
        'mode: anycast',
        'bird: { socket: bird.ctl }',
        'control: healthd.sock',
        `listen: { address: 127.0.0.1, port: ${metricsPort} }`,
        'vips:',
        ...vips.map((v) =>
          v.replace(
            'CHECK_EXTRA',
            Object.entries(spec.check)
              .map(([k, x]) => `, ${k}: ${x}`)
              .join(''),
          ),
        ),
        '',
      ].join('\n'),
    );
    for (let k = 0; k < 100 && !existsSync(birdSocket); k++) await sleep(50);
    const t0 = performance.now();
    const daemon = start(
      [
        ...pin(0),
        process.execPath,
        ...spec.nodeOptions,
        spec.launcher,
        'healthd',
        '--config',
        join(sub, 'healthd.yaml'),
      ],
      `healthd ${spec.label}`,
      { ...process.env, ...spec.env },
    );
    // Every VIP announced: all static protocols up in its BIRD.
    let up = 0;
    for (let k = 0; k < 600 && up < VIPS; k++) {
      await sleep(100);
      up = await announced(birdSocket);
    }
    if (up < VIPS) throw new Error(`${spec.label}: only ${up} of ${VIPS} VIPs announced after 60 s`);
    running.push({
      ...sampled(daemon.pid!),
      spec,
      metricsPort,
      birdSocket,
      announcedS: (performance.now() - t0) / 1000,
      rate: [],
    });
  }
  let floor: Sampled | undefined;
  if (values.floor) {
    const child = start(
      [
        ...pin(0),
        process.execPath,
        join(ROOT, 'bench/healthd/floor.mjs'),
        String(haproxyPort),
        path,
        String(VIPS),
      ],
      'floor',
    );
    floor = sampled(child.pid!);
  }
  await sleep(2000);

  const measured: Sampled[] = floor === undefined ? running : [...running, floor];
  for (let round = 0; round < ROUNDS; round++) {
    const m0 = await Promise.all(running.map((r) => metrics(r.metricsPort)));
    const c0 = measured.map((p) => cpuTicks(p.pid));
    const w0 = performance.now();
    while (performance.now() - w0 < SECONDS * 1000) {
      await sleep(500);
      for (const p of measured) p.rss.push(memKiB(p.pid, 'VmRSS'));
    }
    const c1 = measured.map((p) => cpuTicks(p.pid));
    const m1 = await Promise.all(running.map((r) => metrics(r.metricsPort)));
    const wall = (performance.now() - w0) / 1000;
    const pct = (ticks: number): number => (ticks / HZ / wall) * 100;
    for (const [i, p] of measured.entries()) {
      p.user.push(pct(c1[i]!.user - c0[i]!.user));
      p.sys.push(pct(c1[i]!.sys - c0[i]!.sys));
      p.cpu.push(pct(c1[i]!.user + c1[i]!.sys - c0[i]!.user - c0[i]!.sys));
    }
    for (const [i, r] of running.entries()) {
      const checks =
        sum(m1[i]!, 'intentlb_healthd_checks_total') - sum(m0[i]!, 'intentlb_healthd_checks_total');
      r.rate.push(checks / wall);
    }
  }

  const mib = (k: number): string => (k / 1024).toFixed(0);
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
  console.log(`healthd daemons side by side, ${VIPS} VIPs × 1/s each, ${ROUNDS} × ${SECONDS} s measured`);
  console.log(`  ${execFileSync('haproxy', ['-v']).toString().split('\n')[0]}; node ${process.version}`);
  for (const r of running) {
    const last = await metrics(r.metricsPort);
    const gauge = (name: string): string => `${(sum(last, name) / 2 ** 20).toFixed(1)}`;
    const env = Object.entries(r.spec.env).map(([k, v]) => `${k}=${v} `);
    console.log(`- ${r.spec.label}: ${env.join('')}${r.spec.launcher} ${r.spec.nodeOptions.join(' ')}`);
    console.log(`    every VIP announced ${r.announcedS.toFixed(1)} s after start`);
    console.log(
      `    checks/s ${median(r.rate).toFixed(0)}; CPU median ${median(r.cpu).toFixed(1)} % of one core (rounds ${range(r.cpu)}; user ${median(r.user).toFixed(1)}, system ${median(r.sys).toFixed(1)})`,
    );
    console.log(
      `    RSS median ${mib(median(r.rss))} MiB, max ${mib(Math.max(...r.rss))} MiB, peak since start (VmHWM) ${mib(memKiB(r.pid, 'VmHWM'))} MiB; V8 heap used ${gauge('nodejs_heap_size_used_bytes')} of ${gauge('nodejs_heap_size_total_bytes')} MiB`,
    );
  }
  if (floor !== undefined) {
    console.log(`- floor: bench/healthd/floor.mjs, ${VIPS} checks/s`);
    console.log(
      `    CPU median ${median(floor.cpu).toFixed(1)} % of one core (rounds ${range(floor.cpu)}); RSS median ${mib(median(floor.rss))} MiB`,
    );
    for (const r of running) {
      console.log(`  ${r.spec.label} / floor: CPU ×${(median(r.cpu) / median(floor.cpu)).toFixed(2)}`);
    }
  }
  if (running.length > 1) {
    const [first, ...rest] = running;
    for (const r of rest) {
      console.log(
        `  ${r.spec.label} / ${first!.spec.label}: CPU ×${(median(r.cpu) / median(first!.cpu)).toFixed(2)}, RSS ×${(median(r.rss) / median(first!.rss)).toFixed(2)}`,
      );
    }
  }
  console.log(
    `  ${new Date().toISOString()}, ${nproc} cores, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
} finally {
  stopping = true;
  // The daemons first (each withdraws and exits; a CPU profile is written then), then BIRD and HAProxy.
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
  }
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const pid of standInPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (process.env.KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
