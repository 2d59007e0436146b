/** A backend host's process: the lab backend program with the host's listen specs and control socket. */
import { join } from 'node:path';
import { formatListenSpec } from './backend/listen-spec.ts';
import { REPO } from './backend-bundle.ts';
import { controlSocket } from './backend-control.ts';
import type { BackendPlan } from './backends.ts';
import { type LabProcess, type SpawnSpec, waitForLog } from './processes.ts';
import type { LabState } from './state.ts';

const BACKEND_READY_MS = 30_000;

/** Starts one backend host and waits for its ready line. */
export async function startBackendHost(
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
