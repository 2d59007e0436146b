import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { runTool } from '../build/run-tool.ts';
import type { NodeLayout } from '../render/types.ts';
import { OperationError } from './errors.ts';
import {
  type SupervisorReply,
  type SupervisorRequest,
  supervisorSocket,
  type UnitStatus,
} from './supervisor.ts';
import { systemdPatterns, systemdUnitName, unitNameOf } from './systemd-units.ts';

/**
 * Starting and stopping a node's processes, whoever runs them: systemd (`haproxy@<instance>`
 * units) on real nodes, the built-in supervisor in labs and containers. Reloads do not go through
 * here: they use the HAProxy master socket in both cases, which confirms the new workers.
 */
export interface ProcessControl {
  readonly kind: 'systemd' | 'supervisor';
  /** Starts a unit; `already` when it was running. Throws with the reason on failure. */
  start(unit: string): Promise<{ already: boolean }>;
  stop(unit: string): Promise<void>;
  /** Units running now (e.g. `haproxy@web-wiki`, `bird`). */
  running(): Promise<Set<string>>;
  units(): Promise<UnitStatus[]>;
}

export class ControlError extends OperationError {}

/** One request to the supervisor's socket. */
export function supervisorRequest(
  socket: string,
  req: SupervisorRequest,
  timeoutMs = 60_000,
): Promise<SupervisorReply> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ControlError(`supervisor at ${socket}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => {
      buf += d;
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new ControlError(`supervisor at ${socket}: ${err.message} (is \`intentlb supervise\` running?)`, {
          cause: err,
        }),
      );
    });
    s.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as SupervisorReply);
      } catch (err) {
        reject(
          new ControlError(`supervisor at ${socket}: unreadable answer ${JSON.stringify(buf)}`, {
            cause: err,
          }),
        );
      }
    });
  });
}

export class SupervisorControl implements ProcessControl {
  readonly kind = 'supervisor';
  readonly socket: string;
  constructor(layout: NodeLayout) {
    this.socket = supervisorSocket(layout);
  }

  async start(unit: string): Promise<{ already: boolean }> {
    const r = await supervisorRequest(this.socket, { op: 'start', unit });
    if (!r.ok) throw new ControlError(r.error);
    return { already: r.already === true };
  }

  async stop(unit: string): Promise<void> {
    const r = await supervisorRequest(this.socket, { op: 'stop', unit });
    if (!r.ok) throw new ControlError(r.error);
  }

  async units(): Promise<UnitStatus[]> {
    const r = await supervisorRequest(this.socket, { op: 'status' }, 5000);
    if (!r.ok) throw new ControlError(r.error);
    return r.units ?? [];
  }

  async running(): Promise<Set<string>> {
    return new Set((await this.units()).filter((u) => u.state === 'running').map((u) => u.name));
  }
}

/** How long systemd may take to begin stopping a unit (send its `KillSignal`). */
const STOP_BEGINS_MS = 10_000;

export class SystemdControl implements ProcessControl {
  readonly kind = 'systemd';

  async #systemctl(...args: string[]): Promise<string> {
    const r = await runTool('systemctl', args, { timeoutMs: 60_000 });
    if (!r.ok) throw new ControlError(`systemctl ${args.join(' ')}: ${r.output}`);
    return r.output;
  }

  /**
   * Starts the unit and enables it, so it comes back after a reboot (`haproxy@web` is
   * `haproxy@web.service`, `bird` is `intentlb-bird.service`: systemd-units.ts).
   */
  async start(name: string): Promise<{ already: boolean }> {
    const unit = systemdUnitName(name);
    const active = (await runTool('systemctl', ['is-active', '--quiet', unit])).ok;
    if (active) return { already: true };
    await this.#systemctl('daemon-reload');
    await this.#systemctl('enable', '--now', unit);
    return { already: false };
  }

  /**
   * Disables the unit (a removed instance does not come back at boot) and has systemd stop it with
   * its `KillSignal` — for HAProxy the soft stop, which lets the instance's connections finish, up
   * to `hard-stop-after` (10 min for TCP). Returns once systemd has begun the stop (the unit is no
   * longer active), not when the last connection has gone: a blocking `systemctl stop` would hold
   * the apply that long, past its own timeout (ADR 0022).
   */
  async stop(name: string): Promise<void> {
    const unit = systemdUnitName(name);
    await this.#systemctl('disable', '--now', '--no-block', unit);
    const deadline = Date.now() + STOP_BEGINS_MS;
    for (;;) {
      const state = (
        await runTool('systemctl', ['show', '-p', 'ActiveState', '--value', unit])
      ).output.trim();
      if (state === 'deactivating' || state === 'inactive' || state === 'failed') return;
      if (Date.now() >= deadline)
        throw new ControlError(`systemctl stop ${unit}: still ${state} after ${STOP_BEGINS_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async units(): Promise<UnitStatus[]> {
    const out = await this.#systemctl('list-units', '--plain', '--no-legend', '--all', ...systemdPatterns());
    const units: UnitStatus[] = [];
    for (const l of out.split('\n')) {
      const [unit = '', , active = '', sub = ''] = l.trim().split(/\s+/);
      const name = unitNameOf(unit);
      if (name === undefined) continue;
      const state = active === 'active' ? 'running' : sub === 'auto-restart' ? 'backoff' : 'stopped';
      units.push({ name, state, pid: null, restarts: 0, since: '', lastExit: null });
    }
    return units;
  }

  async running(): Promise<Set<string>> {
    return new Set((await this.units()).filter((u) => u.state === 'running').map((u) => u.name));
  }
}

/**
 * systemd when it runs this machine and the install is the real one (`--root /`); the built-in
 * supervisor otherwise (labs, containers, tests), which must be running.
 */
export function chooseControl(layout: NodeLayout, rootIsSlash: boolean): ProcessControl {
  if (rootIsSlash && existsSync('/run/systemd/system') && !existsSync(supervisorSocket(layout))) {
    return new SystemdControl();
  }
  return new SupervisorControl(layout);
}
