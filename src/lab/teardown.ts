/** Undoing a lab: processes, what runs in its namespaces, the namespaces, its files. */
import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stopProcesses, sweepNamespaces } from './processes.ts';
import type { LabState } from './state.ts';
import { unwire } from './wiring.ts';

const STOP_GRACE_MS = 1000;
const SWEEP_GRACE_MS = 500;

/** Stops every process, clears the namespaces, deletes them and the lab's files. */
export async function teardown(s: LabState, opts: { keepDir?: boolean } = {}): Promise<number[]> {
  // A short grace: the whole lab goes, so a node's drain (withdraw, then stop) has nothing to protect.
  await stopProcesses(s.processes, STOP_GRACE_MS);
  const swept = await sweepNamespaces(s.namespaces, SWEEP_GRACE_MS);
  await unwire(s.namespaces);
  removeLabFiles(s.dir, opts.keepDir === true);
  return swept;
}

/** The lab's own entries in its folder, then the folder when nothing else is in it. */
function removeLabFiles(dir: string, keepDir: boolean): void {
  for (const entry of [
    'logs',
    'hosts',
    'router',
    'nodes',
    'backend.mjs',
    'ssh',
    'ansible',
    'state.json',
    'state.json.tmp',
  ]) {
    rmSync(join(dir, entry), { recursive: true, force: true });
  }
  if (keepDir) return;
  rmSync(join(dir, 'lock'), { force: true });
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // already gone
  }
}
