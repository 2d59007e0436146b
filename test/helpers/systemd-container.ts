/**
 * An LB node under a booted systemd: a Debian rootfs (scripts/build-node-rootfs.sh, cached) booted
 * with `systemd-nspawn --boot` inside a lab node's network namespace. The container writes to an
 * overlay of its own over the cached tree, so what a deploy installs survives a reboot (a new
 * `systemd-nspawn` on the same overlay) and the cache stays clean. intentlb, its node_modules and
 * `node` are bind-mounted read-only at the host's paths, so the units `apply` writes inside name
 * the same files as outside.
 *
 * No machined or host systemd is needed (`--register=no --keep-unit`); commands run inside with
 * `nsenter -t <container PID 1> -a`, and the container is stopped by asking its systemd to power
 * off (SIGRTMIN+4), SIGKILL to its PID 1 only when that does not end it.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from './tools.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The cached rootfs (built on first use: ~2–4 min, then instant). Throws when the build fails. */
export function nodeRootfs(): string {
  requireTool('mmdebstrap');
  const r = spawnSync('bash', [join(ROOT, 'scripts/build-node-rootfs.sh')], {
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (r.status !== 0) throw new Error(`build-node-rootfs.sh: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  return r.stdout.trim();
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * SIGRTMIN+4, which asks systemd to power off. Node knows no real-time signal by name (it throws
 * "Unknown signal: SIGRTMIN+4"), and SIGRTMIN is the C library's (glibc: 34): bash's `kill -l`
 * gives the number.
 */
function powerOffSignal(): number {
  const r = spawnSync('bash', ['-c', 'kill -l RTMIN+4'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isInteger(n) || n <= 0) throw new Error(`kill -l RTMIN+4: ${r.stderr}`);
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SystemdNode {
  #nspawn: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  /** The container's PID 1 (systemd) as the host sees it. */
  pid = 0;
  readonly merged: string;
  readonly #upper: string;
  readonly #work: string;
  #mounted = false;

  constructor(
    readonly rootfs: string,
    readonly dir: string,
    readonly netns: string,
    readonly binds: readonly string[],
  ) {
    requireTool('systemd-nspawn');
    requireTool('nsenter');
    this.merged = join(dir, 'merged');
    this.#upper = join(dir, 'upper');
    this.#work = join(dir, 'work');
  }

  #mount(): void {
    if (this.#mounted) return;
    for (const d of [this.merged, this.#upper, this.#work]) mkdirSync(d, { recursive: true });
    const opts = `lowerdir=${this.rootfs},upperdir=${this.#upper},workdir=${this.#work}`;
    const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, this.merged], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount overlay: ${r.stderr}`);
    this.#mounted = true;
  }

  /** Boots the container and waits until its systemd reports the boot finished. */
  async boot(timeoutMs = 60_000): Promise<void> {
    this.#mount();
    const log = openSync(join(this.dir, 'nspawn.log'), 'a');
    const args = [
      '-q',
      '--register=no',
      '--keep-unit',
      '-D',
      this.merged,
      '--boot',
      `--network-namespace-path=/run/netns/${this.netns}`,
      // nspawn grants CAP_NET_ADMIN with --private-network only, not with a namespace path; a
      // node's own processes (VIPs on lo, nftables) need it, as they have it on a real host.
      '--capability=CAP_NET_ADMIN',
      ...this.binds.map((b) => `--bind-ro=${b}`),
    ];
    const child = spawn('systemd-nspawn', args, { stdio: ['ignore', log, log] });
    this.#nspawn = child;
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    const deadline = Date.now() + timeoutMs;
    while (this.pid === 0) {
      if (child.exitCode !== null) throw new Error(`systemd-nspawn exited ${child.exitCode}: ${this.log()}`);
      const [pid] = childrenOf(child.pid!);
      if (pid !== undefined && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd') this.pid = pid;
      else if (Date.now() > deadline) throw new Error(`no systemd in the container: ${this.log()}`);
      else await sleep(100);
    }
    // The system bus comes up a moment after PID 1: until then systemctl cannot ask.
    let r = await this.exec(['systemctl', 'is-system-running', '--wait'], timeoutMs);
    while (/Failed to connect to bus/.test(r.stderr) && Date.now() < deadline) {
      await sleep(100);
      r = await this.exec(['systemctl', 'is-system-running', '--wait'], timeoutMs);
    }
    // `degraded` (a unit of the distribution failed) still boots; anything else did not.
    if (!/^(running|degraded)/.test(r.stdout))
      throw new Error(`the container's systemd: ${r.stdout}${r.stderr}\n${this.log()}`);
  }

  log(): string {
    const p = join(this.dir, 'nspawn.log');
    return existsSync(p) ? readFileSync(p, 'utf8').slice(-2000) : '';
  }

  /** Runs a command inside the container (all its namespaces). Never throws. */
  exec(command: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        'nsenter',
        ['-t', String(this.pid), '-a', ...command],
        {
          encoding: 'utf8',
          timeout: timeoutMs,
          maxBuffer: 8 * 1024 * 1024,
          env: {
            PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
            NO_COLOR: '1',
            ...env,
          },
        },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** `systemctl show -p <prop> --value <unit>` inside. */
  async show(unit: string, prop: string): Promise<string> {
    return (await this.exec(['systemctl', 'show', '-p', prop, '--value', unit])).stdout.trim();
  }

  /** Powers the container off (its systemd stops every unit) and waits for nspawn to exit. */
  async powerOff(timeoutMs = 60_000): Promise<void> {
    const child = this.#nspawn;
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null && this.pid !== 0) {
      try {
        process.kill(this.pid, powerOffSignal());
      } catch {
        // already gone
      }
      const done = await Promise.race([this.#exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!done) {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        await this.#exited;
      }
    } else if (child.exitCode === null && child.signalCode === null) {
      // No systemd found in it yet (a boot that failed early): end nspawn itself.
      child.kill('SIGTERM');
      const done = await Promise.race([this.#exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await this.#exited;
      }
    }
    this.#nspawn = null;
    this.pid = 0;
  }

  /** Powers off and unmounts the overlay (the caller removes `dir`). */
  async close(): Promise<void> {
    await this.powerOff();
    if (this.#mounted) {
      spawnSync('umount', [this.merged]);
      this.#mounted = false;
    }
  }
}

/** The paths to bind-mount read-only for intentlb to run inside: the install, its node_modules, node. */
export function intentlbBinds(): string[] {
  const root = ROOT.replace(/\/$/, '');
  const modules = realpathSync(join(root, 'node_modules'));
  return [...new Set([root, modules, process.execPath])];
}
