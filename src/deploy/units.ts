import { findTool } from '../build/run-tool.ts';
import { instancePaths } from '../render/haproxy/paths.ts';
import { SOFT_STOP_TIMEOUT_MIN } from '../render/systemd/unit.ts';
import type { NodeLayout } from '../render/types.ts';
import { OperationError } from './errors.ts';
import { nodeService, unknownUnit } from './services/index.ts';

/**
 * The processes a node runs, named like their systemd units: `haproxy@<instance>`, and one unit per
 * node service that has a process (services/: `bird`, `healthd`, `keepalived`). Shared by the
 * built-in supervisor and the systemd back-end.
 */
export interface UnitSpec {
  name: string;
  command: string;
  args: string[];
  /** Resolves when the process is ready to be talked to (its control socket answers). */
  readySocket: string | null;
  /** How to ask the process to stop gracefully. */
  stopSignal: NodeJS.Signals;
  /** How long a graceful stop may take before SIGKILL. */
  stopTimeoutMs: number;
  /** Environment on top of the supervisor's (systemd: `Environment=`). */
  env?: Readonly<Record<string, string>>;
  /** Scheduling niceness (systemd: `Nice=`; the supervisor runs the command under `nice -n`). */
  nice?: number;
  /**
   * Commands run in order before every start and restart, each to success, else the start fails
   * (systemd: `ExecStartPre=`; the supervisor runs them itself). No shell: a program and its words.
   */
  preStart?: readonly PreStartStep[];
}

/** One command before a unit's process starts. */
export interface PreStartStep {
  command: string;
  args: readonly string[];
}

/** An instance's unit name: `haproxy@<instance>`. */
export const HAPROXY_UNIT = /^haproxy@([A-Za-z0-9_.-]+)$/;

/** The unit's command line, from the installed layout. Throws for an unknown unit name. */
export function unitSpec(layout: NodeLayout, name: string): UnitSpec {
  if (name === 'haproxy' || name.startsWith('haproxy@')) {
    const instance = HAPROXY_UNIT.exec(name)?.[1];
    if (instance === undefined) throw new OperationError(`bad instance name in unit ${name}`);
    const p = instancePaths(layout, instance);
    return {
      name,
      command: findTool('haproxy') ?? 'haproxy',
      // Master-worker in the foreground; `reload` on the master socket re-executes the master
      // with the same arguments, so it re-reads the file through the `<etc>` link.
      args: ['-W', '-f', p.config, '-p', p.pidFile, '-S', `${p.masterSocket},mode,600`],
      readySocket: p.masterSocket,
      // SIGUSR1: soft stop, the workers finish their connections (bounded by hard-stop-after);
      // SIGKILL only after the same timeout as the systemd unit's.
      stopSignal: 'SIGUSR1',
      stopTimeoutMs: SOFT_STOP_TIMEOUT_MIN * 60_000,
    };
  }
  const unit = nodeService(name)?.unit;
  if (unit === undefined) throw unknownUnit(name);
  return { name, ...unit.spec(layout) };
}
