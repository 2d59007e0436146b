/**
 * A backend host's processes: the lab backend program with the host's listen specs and control
 * socket, and the real daemons it runs (`lab up --backends real`).
 */
import { join } from 'node:path';
import { formatListenSpec } from './backend/listen-spec.ts';
import { REPO } from './backend-bundle.ts';
import { controlSocket } from './backend-control.ts';
import type { BackendPlan } from './backends.ts';
import { type LabProcess, type SpawnSpec, waitForLog } from './processes.ts';
import { type BinaryPaths, startRealInstance } from './real/index.ts';
import type { LabState } from './state.ts';

const BACKEND_READY_MS = 30_000;

/** Starts everything a backend host serves, its real daemons beside its built-in server. */
export async function startBackendHost(
  s: LabState,
  b: BackendPlan,
  bins: BinaryPaths,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  await Promise.all([
    ...(b.listen.length > 0 ? [startBuiltin(s, b, spawn)] : []),
    ...(b.real ?? []).map((i) => startRealInstance(s, i, bins, spawn)),
  ]);
}

/** Starts the host's built-in backend program and waits for its ready line. */
async function startBuiltin(
  s: LabState,
  b: BackendPlan,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  const host = s.topology.hosts.find((h) => h.name === b.host)!;
  const control = controlSocket(s.dir, b.host);
  const p = spawn({
    kind: 'backend',
    host: b.host,
    ns: host.ns,
    command: [
      ...s.backendCommand,
      '--host',
      b.host,
      '--control',
      control,
      ...b.listen.flatMap((l) => ['--listen', formatListenSpec(l)]),
    ],
    log: join(s.dir, 'logs', `${b.host}.log`),
    cwd: REPO,
  });
  await waitForLog(p, (t) => t.includes('"event":"ready"'), BACKEND_READY_MS, `backend host ${b.host}`);
}

/** A backend host's processes, built-in and real. */
export function isBackendProcess(p: LabProcess): boolean {
  return p.kind === 'backend' || p.kind.startsWith('backend:');
}
