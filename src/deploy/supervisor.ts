import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { findTool } from '../build/run-tool.ts';
import { isMissing, messageOf } from '../errors.ts';
import { writeAtomic } from '../fs/atomic.ts';
import type { NodeLayout } from '../render/types.ts';
import { pidAlive } from '../runtime/pid.ts';
import { socketAnswers } from '../runtime/socket-answers.ts';
import { listenUnix, type UnixServer } from '../runtime/unix-server.ts';
import { OperationError } from './errors.ts';
import { type PreStartStep, type UnitSpec, unitSpec } from './units.ts';

/**
 * The built-in supervisor (`intentlb supervise`): systemd's job for labs and containers. It keeps
 * every enabled unit running, restarting a dead one with exponential back-off, and takes `start`,
 * `stop` and `status` requests from apply on a unix socket (one JSON line each way). The enabled
 * set is persisted, so a restarted supervisor brings the same units back.
 */
export interface UnitStatus {
  name: string;
  state: 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';
  pid: number | null;
  restarts: number;
  since: string;
  lastExit: string | null;
}

export type SupervisorRequest =
  | { op: 'start'; unit: string }
  | { op: 'stop'; unit: string }
  | { op: 'status' };

export type SupervisorReply =
  | { ok: true; units?: UnitStatus[]; already?: boolean }
  | { ok: false; error: string };

export function supervisorSocket(layout: NodeLayout): string {
  return `${layout.run}/supervisor.sock`;
}

interface Unit {
  spec: UnitSpec;
  child: ChildProcess | null;
  status: UnitStatus;
  enabled: boolean;
  /** Last lines the process printed, for error messages. */
  tail: string[];
  startedAt: number;
  backoffTimer: NodeJS.Timeout | null;
}

const READY_TIMEOUT_MS = 10_000;
/**
 * How long `stop` waits for the process to exit before it answers. A daemon stops in well under
 * this; an HAProxy soft stop may take up to its `hard-stop-after`: stop answers once the signal
 * is sent and the process is still at it, as `systemctl disable --now --no-block` does (ADR 0022),
 * and SIGKILL follows only after the unit's own stop timeout.
 */
const STOP_WAIT_MS = 3_000;
const MAX_BACKOFF_MS = 10_000;
const STABLE_MS = 10_000;

export interface SupervisorOptions {
  layout: NodeLayout;
  log: (event: Record<string, unknown>) => void;
  /** Start delay of the first restart; doubles up to 10 s. */
  backoffMs?: number;
}

/** The PID in a unit's pid file when that process still runs this unit's command line. */
export function orphanPid(spec: UnitSpec): number | null {
  const i = spec.args.findIndex((a) => a === '-p' || a === '-P');
  const pidFile = i >= 0 ? spec.args[i + 1] : undefined;
  if (pidFile === undefined) return null;
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const flag = spec.args.includes('-f') ? '-f' : '-c';
    const config = spec.args[spec.args.indexOf(flag) + 1];
    return config !== undefined && cmdline.includes(config) ? pid : null;
  } catch {
    return null; // no pid file, or the process is gone: no orphan
  }
}

/** Runs a unit's pre-start step (systemd's `ExecStartPre=`); its error output when it fails. */
function runStep(step: PreStartStep): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(step.command, [...step.args], { timeout: 10_000, encoding: 'utf8' }, (err, _out, stderr) =>
      done(err === null ? undefined : stderr.trim() || err.message),
    );
  });
}

async function killAndWait(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return; // gone already (ESRCH)
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

export class Supervisor {
  readonly #units = new Map<string, Unit>();
  /** Stopped units whose process is still finishing (an HAProxy soft stop); shown as `stopping`. */
  readonly #leaving = new Set<Unit>();
  readonly #layout: NodeLayout;
  readonly #log: SupervisorOptions['log'];
  readonly #backoffMs: number;
  readonly #enabledFile: string;
  #server: UnixServer | null = null;
  #closing = false;

  constructor(opts: SupervisorOptions) {
    this.#layout = opts.layout;
    this.#log = opts.log;
    this.#backoffMs = opts.backoffMs ?? 200;
    this.#enabledFile = join(opts.layout.state, 'supervisor.json');
  }

  /** Listens on the control socket and starts the units enabled before (persisted). */
  async listen(): Promise<void> {
    const path = supervisorSocket(this.#layout);
    mkdirSync(dirname(path), { recursive: true });
    if (await socketAnswers(path)) {
      throw new OperationError(`a supervisor already runs for this node: it listens on ${path}`);
    }
    rmSync(path, { force: true });
    try {
      this.#server = await listenUnix(path, (s) => this.#serve(s));
    } catch (err) {
      // Two supervisors started at the same moment: the other one won.
      throw new OperationError(`cannot listen on ${path}: ${messageOf(err)}`, { cause: err });
    }
    this.#log({ event: 'listening', socket: path });
    for (const name of this.#readEnabled()) {
      // A previous supervisor killed with -9 leaves its processes behind. HAProxy binds with
      // SO_REUSEPORT, so the new instance starts beside the orphan and the orphan then leaves
      // softly: no connection is refused. Other daemons hold their sockets: the orphan goes first.
      const orphan = orphanPid(unitSpec(this.#layout, name));
      const spec = unitSpec(this.#layout, name);
      if (orphan !== null && !name.startsWith('haproxy@'))
        await killAndWait(orphan, 'SIGTERM', spec.stopTimeoutMs);
      const r = await this.start(name);
      if (!r.ok) this.#log({ event: 'start-failed', unit: name, error: r.error });
      if (orphan !== null && name.startsWith('haproxy@')) {
        this.#log({ event: 'orphan-stopped', unit: name, pid: orphan });
        void killAndWait(orphan, spec.stopSignal, spec.stopTimeoutMs);
      }
    }
  }

  #readEnabled(): string[] {
    try {
      const names = JSON.parse(readFileSync(this.#enabledFile, 'utf8')) as unknown;
      return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
    } catch (err) {
      // First start, or a list cut short: nothing to bring back (apply starts what it needs).
      if (isMissing(err) || err instanceof SyntaxError) return [];
      throw err;
    }
  }

  #saveEnabled(): void {
    const names = [...this.#units.values()].filter((u) => u.enabled).map((u) => u.spec.name);
    writeAtomic(this.#enabledFile, `${JSON.stringify(names.sort())}\n`);
  }

  #serve(socket: Socket): void {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      void this.#handle(line).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    });
  }

  async #handle(line: string): Promise<SupervisorReply> {
    let req: SupervisorRequest;
    try {
      req = JSON.parse(line) as SupervisorRequest;
    } catch {
      return { ok: false, error: 'not a JSON line' };
    }
    try {
      if (req.op === 'status') return { ok: true, units: this.status() };
      if (req.op === 'start') return await this.start(req.unit);
      if (req.op === 'stop') return await this.stop(req.unit);
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    return { ok: false, error: `unknown op ${JSON.stringify((req as { op?: unknown }).op)}` };
  }

  status(): UnitStatus[] {
    return [...this.#units.values(), ...this.#leaving]
      .map((u) => ({ ...u.status }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.state === 'stopping' ? -1 : 1));
  }

  /** Starts a unit and waits until it is ready (or failed). Starting a running unit is a no-op. */
  async start(name: string): Promise<SupervisorReply> {
    const existing = this.#units.get(name);
    if (existing?.child && existing.status.state === 'running') {
      if (!existing.enabled) {
        existing.enabled = true;
        this.#saveEnabled();
      }
      return { ok: true, already: true };
    }
    const unit: Unit = existing ?? {
      spec: unitSpec(this.#layout, name),
      child: null,
      status: {
        name,
        state: 'stopped',
        pid: null,
        restarts: 0,
        since: new Date().toISOString(),
        lastExit: null,
      },
      enabled: true,
      tail: [],
      startedAt: 0,
      backoffTimer: null,
    };
    unit.enabled = true;
    if (unit.backoffTimer !== null) clearTimeout(unit.backoffTimer);
    unit.backoffTimer = null;
    this.#units.set(name, unit);
    this.#saveEnabled();
    const ok = await this.#spawn(unit);
    return ok
      ? { ok: true }
      : { ok: false, error: `${name} did not start: ${unit.tail.slice(-8).join('\n')}` };
  }

  async #spawn(unit: Unit): Promise<boolean> {
    const { spec } = unit;
    if (spec.readySocket !== null) rmSync(spec.readySocket, { force: true });
    unit.tail = [];
    unit.startedAt = Date.now();
    this.#setState(unit, 'starting');
    for (const step of spec.preStart ?? []) {
      const failed = await runStep(step);
      if (failed !== undefined) {
        unit.tail.push(`before start: ${[step.command, ...step.args].join(' ')}: ${failed}`);
        this.#log({ event: 'output', unit: spec.name, line: unit.tail.at(-1) });
        if (unit.enabled && !this.#closing) this.#restartLater(unit);
        return false;
      }
    }
    if (!unit.enabled || this.#closing) {
      this.#setState(unit, 'stopped'); // stopped while its steps ran
      return false;
    }
    // Niceness through `nice -n`, which then execs the command: it applies before the first
    // thread starts, and the PID is the command's own.
    const [command, args] =
      spec.nice === undefined
        ? [spec.command, spec.args]
        : [findTool('nice') ?? 'nice', ['-n', String(spec.nice), spec.command, ...spec.args]];
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(spec.env === undefined ? {} : { env: { ...process.env, ...spec.env } }),
    });
    unit.child = child;
    unit.status.pid = child.pid ?? null;
    const keep = (chunk: Buffer): void => {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (l.trim() === '') continue;
        unit.tail.push(l);
        this.#log({ event: 'output', unit: spec.name, line: l });
      }
      if (unit.tail.length > 50) unit.tail.splice(0, unit.tail.length - 50);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('error', (err) => unit.tail.push(`spawn failed: ${err.message}`));
    child.once('exit', (code, signal) => {
      exited = true;
      this.#onExit(unit, child, code, signal);
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!exited && Date.now() < deadline) {
      if (
        spec.readySocket === null ? Date.now() - unit.startedAt > 300 : await socketAnswers(spec.readySocket)
      ) {
        this.#setState(unit, 'running');
        this.#log({ event: 'started', unit: spec.name, pid: child.pid });
        return true;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!exited) {
      unit.tail.push(`not ready after ${READY_TIMEOUT_MS} ms`);
      child.kill('SIGKILL');
    }
    return false;
  }

  #setState(unit: Unit, state: UnitStatus['state']): void {
    unit.status.state = state;
    unit.status.since = new Date().toISOString();
  }

  #onExit(unit: Unit, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (unit.child !== child) return;
    unit.child = null;
    unit.status.pid = null;
    unit.status.lastExit = signal === null ? `exit ${code}` : `signal ${signal}`;
    this.#log({ event: 'exited', unit: unit.spec.name, pid: child.pid, how: unit.status.lastExit });
    if (!unit.enabled || this.#closing) {
      this.#setState(unit, 'stopped');
      return;
    }
    this.#restartLater(unit);
  }

  /** Back-off: doubles with each quick death (or failed start), resets once a run lasted STABLE_MS. */
  #restartLater(unit: Unit): void {
    if (Date.now() - unit.startedAt > STABLE_MS) unit.status.restarts = 0;
    const delay = Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2 ** Math.min(unit.status.restarts, 10));
    unit.status.restarts++;
    this.#setState(unit, 'backoff');
    unit.backoffTimer = setTimeout(() => {
      unit.backoffTimer = null;
      if (unit.enabled && !this.#closing) void this.#spawn(unit);
    }, delay);
  }

  /**
   * Disables a unit and stops it gracefully: its stop signal, SIGKILL only after its stop timeout.
   * Answers once the process has exited or, at the latest, after STOP_WAIT_MS with the process
   * still finishing (`stopping` in the status); the unit's name is free again at once, so the same
   * VIP added back starts a new instance beside the old one (HAProxy binds with SO_REUSEPORT, and
   * the old one no longer listens).
   */
  async stop(name: string): Promise<SupervisorReply> {
    const unit = this.#units.get(name);
    if (unit === undefined) return { ok: true, already: true };
    unit.enabled = false;
    this.#units.delete(name);
    this.#saveEnabled();
    if (unit.backoffTimer !== null) clearTimeout(unit.backoffTimer);
    unit.backoffTimer = null;
    const done = this.#terminate(unit, unit.spec.stopSignal);
    if (unit.status.state === 'stopping') {
      this.#leaving.add(unit);
      void done.then(() => this.#leaving.delete(unit));
      await Promise.race([done, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    }
    return { ok: true };
  }

  async #terminate(unit: Unit, signal: NodeJS.Signals): Promise<void> {
    const child = unit.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) {
      this.#setState(unit, 'stopped');
      return;
    }
    this.#setState(unit, 'stopping');
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), unit.spec.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops every unit (SIGTERM: a supervisor going away takes its processes with it) and the socket. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const u of this.#units.values()) if (u.backoffTimer !== null) clearTimeout(u.backoffTimer);
    await Promise.all([...this.#units.values(), ...this.#leaving].map((u) => this.#terminate(u, 'SIGTERM')));
    await this.#server?.close();
  }
}
