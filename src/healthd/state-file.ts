/**
 * healthd's state file: what must outlive the process. Only the operator's `drain` lives there —
 * a node drained for maintenance stays drained across a restart of healthd or of the machine until
 * `undrain`. Holds are not kept: a hold belongs to the `apply` that made it, and a healthd that
 * restarts under it checks the instance afresh anyway.
 */
import { readFileSync } from 'node:fs';
import { writeAtomic } from '../fs/atomic.ts';

interface StateFile {
  drained: boolean;
  /** When the drain was asked for (ISO time), when drained. */
  since?: string;
}

/** The remembered drain; a missing file is "not drained", a broken one too (with the error). */
export function readDrain(file: string | undefined): { drained: boolean; since?: string; error?: string } {
  if (file === undefined) return { drained: false };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { drained: false };
    return { drained: false, error: (err as Error).message };
  }
  try {
    const s = JSON.parse(text) as Partial<StateFile>;
    if (typeof s.drained !== 'boolean') return { drained: false, error: 'no "drained" in the state file' };
    return s.drained && typeof s.since === 'string'
      ? { drained: true, since: s.since }
      : { drained: s.drained };
  } catch (err) {
    return { drained: false, error: `not JSON: ${(err as Error).message}` };
  }
}

/** Writes the state atomically (temp file, fsync, rename: deploy/store.ts); `now` is the drain's `since`. */
export function writeStateFile(file: string, drained: boolean, now: Date): void {
  const state: StateFile = drained ? { drained, since: now.toISOString() } : { drained };
  writeAtomic(file, `${JSON.stringify(state)}\n`);
}
