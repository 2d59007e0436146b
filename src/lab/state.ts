/**
 * The lab's state directory: `state.json` (what exists: namespaces, processes, paths, the site)
 * written before anything it names is created, so `down` can always undo a lab, even one whose
 * `up` died half-way; and a lock so two lab commands never work on one lab at once.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock } from '../deploy/lock.ts';
import { isMissing, messageOf } from '../errors.ts';
import type { BackendPlan } from './backends.ts';
import { LabError } from './errors.ts';
import type { LabProcess } from './processes.ts';
import type { RealProtocol } from './real/types.ts';
import type { VipRouting } from './router-config.ts';
import type { RouterKind } from './router-driver.ts';
import type { LabTopology } from './topology.ts';

/** Where labs keep their state unless told otherwise: one folder per namespace prefix. */
export const LAB_ROOT = '/run/intentlb-lab';

/** The default state folder of the lab with a given prefix. */
export function defaultLabDir(prefix: string): string {
  return join(LAB_ROOT, prefix.replace(/[-_.]+$/, '') || 'lab');
}

/** Everything `status`, `exec`, `apply` and `down` need to know about a running lab. */
export interface LabState {
  version: 1;
  prefix: string;
  dir: string;
  /** The site folder, absolute. */
  site: string;
  routing: VipRouting;
  /**
   * Whether the router keeps each connection on the node it started on (flow-pinning.ts): `pinned`
   * unless `lab up --plain-ecmp`; absent in a VRRP lab (one node holds a VIP) and in labs from
   * before it existed.
   */
  flows?: 'pinned' | 'plain';
  /** The LB nodes were deployed (`lab up` without `--no-deploy`). */
  deploy: boolean;
  /** `starting` until `up` finished. */
  phase: 'starting' | 'up';
  startedAt: string;
  /** Every namespace the lab creates (recorded before creating them). */
  namespaces: string[];
  topology: LabTopology;
  backends: BackendPlan[];
  processes: LabProcess[];
  /**
   * The router: its daemon (absent in labs from before `--router`: BIRD), its configuration file
   * and its control socket (BIRD) or folder of vty sockets (FRR).
   */
  router: { kind?: RouterKind; config: string; socket: string };
  /** Each LB node's install root (`apply --root`). */
  nodes: { name: string; root: string }[];
  /** How a backend host's program is started (bundled JavaScript or through tsx). */
  backendCommand: string[];
  /** The protocols Debian's daemons serve (`lab up --backends real`); absent: built-in servers only. */
  realBackends?: RealProtocol[];
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

/** The lab's state, or undefined when no lab uses this folder. */
export function readState(dir: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(dir), 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined; // no lab up in `dir`
    throw new LabError(`${statePath(dir)}: ${messageOf(err)}`, { cause: err });
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1)
    throw new LabError(`${statePath(dir)}: unknown lab state version ${state.version}`);
  return state;
}

/** Writes the state atomically (temp file + rename). */
export function writeState(state: LabState): void {
  mkdirSync(state.dir, { recursive: true, mode: 0o700 });
  const tmp = `${statePath(state.dir)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, statePath(state.dir));
}

/** A held lock; `release()` is safe after the folder was removed. */
export interface LabLock {
  release(): void;
}

/**
 * Takes the lab's lock (`<dir>/lock`, holding our PID). A lock left by a process that is gone
 * is taken over; one held by a running process is an error naming it.
 */
export function lockLab(dir: string): LabLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { release: acquireLock(join(dir, 'lock'), `another lab command working on the lab in ${dir}`) };
}
