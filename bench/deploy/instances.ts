import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream, writeFileSync } from 'node:fs';
import { type UnitSpec, unitSpec } from '../../src/deploy/units.ts';
import { writeAtomic } from '../../src/fs/atomic.ts';
import { nsSpawn, stopProcess } from '../../src/lab/netns.ts';
import { instancePaths } from '../../src/render/haproxy/paths.ts';
import type { NodeLayout } from '../../src/render/types.ts';
import { HaproxyClient, MasterClient } from '../../src/runtime/haproxy-client.ts';

/** One way of taking a new configuration into use, applied to one HAProxy instance. */
export interface Reloader {
  start(): Promise<void>;
  /** One reload or restart; resolves when the new generation answers on its control socket. */
  reload(): Promise<void>;
  /** HAProxy worker processes of this instance now, current and leaving (the master not counted). */
  workers(): Promise<number>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true; throws after `timeoutMs`. */
async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await sleep(10);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (${last.message})` : ''}`);
}

/**
 * Every HAProxy this benchmark starts, so that `finally` can stop them by PID. stdout (the
 * configuration's `log stdout`, one line per request) goes to /dev/null; stderr is scanned for
 * abnormal ends and optionally appended to a file.
 */
export class Processes {
  readonly all: ChildProcess[] = [];
  /** Abnormal ends (a worker's crash, a master's failure) and how often, per case: part of the report. */
  readonly abnormal = new Map<string, number>();
  /** The case now running, for the report. */
  label = '';
  private readonly ns: string;
  private readonly log: WriteStream | undefined;

  /** `logFile`: where to append every HAProxy's stderr (reloads, worker exits), for a closer look. */
  constructor(ns: string, logFile?: string) {
    this.ns = ns;
    this.log = logFile === undefined ? undefined : createWriteStream(logFile, { flags: 'a' });
  }

  spawn(cmd: string, args: readonly string[]): ChildProcess {
    const child = nsSpawn(this.ns, cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let partial = '';
    let lastAlert = '';
    child.stderr?.on('data', (d: Buffer) => {
      this.log?.write(d);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('[ALERT]')) lastAlert = line.replace(/^.*?\) : /, '').replace(/\d+/g, 'N');
        // The master reports each worker's end; 143 is the SIGTERM it relays when we stop it.
        const m = /(Current|Former) worker \(\d+\) exited with code (\d+) \(([^)]*)\)/.exec(line);
        if (m !== null && m[2] !== '0' && m[2] !== '143') {
          this.count(`${this.label}: ${m[1]?.toLowerCase()} worker exited ${m[2]} (${m[3]})`);
        }
      }
    });
    child.once('exit', (code, signal) => {
      if ((code === 0 || code === null) && signal !== 'SIGKILL') return;
      this.count(`${this.label}: ${cmd} exited ${code ?? signal}, last alert: ${lastAlert}`);
    });
    this.all.push(child);
    return child;
  }

  private count(what: string): void {
    this.abnormal.set(what, (this.abnormal.get(what) ?? 0) + 1);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((c) => stopProcess(c, 5000)));
    this.log?.end();
  }
}

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

function exited(c: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!alive(c)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    c.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Master-worker instance started exactly as our supervisor's `haproxy@<instance>` unit does. */
class MasterWorker {
  protected child: ChildProcess | undefined;
  protected readonly master: MasterClient;
  protected readonly spec: UnitSpec;
  protected readonly procs: Processes;

  constructor(procs: Processes, layout: NodeLayout, instance: string) {
    this.procs = procs;
    this.spec = unitSpec(layout, `haproxy@${instance}`);
    this.master = new MasterClient(
      { path: instancePaths(layout, instance).masterSocket },
      { timeoutMs: 2000 },
    );
  }

  async start(): Promise<void> {
    const child = this.procs.spawn(this.spec.command, this.spec.args);
    this.child = child;
    await until(
      async () => {
        if (!alive(child)) throw new Error('haproxy exited');
        return (await this.master.showProc()).some((p) => p.type === 'worker' && p.current);
      },
      10_000,
      'haproxy master-worker start',
    );
  }

  async workers(): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.master.showProc()).filter((p) => p.type === 'worker').length;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(50); // the master may be re-executing itself
      }
    }
  }

  async stop(): Promise<void> {
    if (this.child !== undefined) await stopProcess(this.child, 5000);
  }
}

/**
 * Ours, as `src/deploy/instance-actions.ts` reloads: save the servers' state for `load-server-state-from-file`,
 * then `reload` on the master CLI, verified through `show proc` ({@link MasterClient.reload}).
 */
export class MasterReload extends MasterWorker implements Reloader {
  private readonly admin: HaproxyClient;
  private readonly stateFile: string;

  constructor(procs: Processes, layout: NodeLayout, instance: string) {
    super(procs, layout, instance);
    const p = instancePaths(layout, instance);
    this.admin = new HaproxyClient({ path: p.adminSocket }, { timeoutMs: 3000 });
    this.stateFile = p.stateFile;
  }

  async reload(): Promise<void> {
    const state = await this.admin.command('show servers state');
    if (state.startsWith('1\n') || state.startsWith('1 ')) writeAtomic(this.stateFile, state);
    // The deploy's timeout; a faster poll than its default 100 ms, to reload at up to 10/s.
    await this.master.reload({ pollMs: 10, timeoutMs: 15_000 });
  }
}

/** Naive: stop the unit (its graceful stop signal, waiting for the exit), then start it again. */
export class NaiveRestart extends MasterWorker implements Reloader {
  async reload(): Promise<void> {
    const old = this.child;
    if (old !== undefined) {
      old.kill(this.spec.stopSignal);
      if (!(await exited(old, this.spec.stopTimeoutMs))) await stopProcess(old, 1000);
    }
    await this.start();
  }
}

/**
 * Legacy: standalone HAProxy (no master: the configuration's `master-worker` line removed), reloaded
 * by starting a new process with `-sf <oldpid>`, without `-x`: no listening sockets are passed.
 */
export class LegacySf implements Reloader {
  private readonly config: string;
  private readonly admin: HaproxyClient;
  private readonly live: ChildProcess[] = [];
  private readonly procs: Processes;

  constructor(procs: Processes, layout: NodeLayout, instance: string, scratchConfig: string) {
    const paths = instancePaths(layout, instance);
    const text = readFileSync(paths.config, 'utf8');
    if (!/^ {4}master-worker$/m.test(text)) throw new Error('expected a master-worker line to remove');
    writeFileSync(scratchConfig, text.replace(/^ {4}master-worker\n/m, ''));
    this.config = scratchConfig;
    this.admin = new HaproxyClient({ path: paths.adminSocket }, { timeoutMs: 2000 });
    this.procs = procs;
  }

  private async launch(extra: readonly string[]): Promise<void> {
    const child = this.procs.spawn('haproxy', ['-f', this.config, ...extra]);
    this.live.push(child);
    await until(
      async () => {
        if (!alive(child)) throw new Error('haproxy exited');
        return Number((await this.admin.showInfo()).Pid) === child.pid;
      },
      10_000,
      'haproxy standalone start',
    );
  }

  start(): Promise<void> {
    return this.launch([]);
  }

  reload(): Promise<void> {
    const pids = this.live.filter(alive).map((c) => String(c.pid));
    return this.launch(['-sf', ...pids]);
  }

  async workers(): Promise<number> {
    return this.live.filter(alive).length;
  }

  async stop(): Promise<void> {
    await Promise.all(this.live.map((c) => stopProcess(c, 5000)));
  }
}
