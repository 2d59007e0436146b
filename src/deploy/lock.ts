import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pidAlive } from '../runtime/pid.ts';
import { OperationError } from './errors.ts';

/** Another apply holds the lock. */
export class LockedError extends OperationError {}

/**
 * An exclusive lock file holding the owner's PID (`O_EXCL` create). A lock whose owner is dead
 * (a command killed with -9) is taken over; a live owner makes this throw `LockedError`, naming
 * `what` it is doing. Returns the release function, which removes the lock only while it is still
 * ours (and is safe after its folder was removed).
 */
export function acquireLock(path: string, what = 'another apply'): () => void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // gone with its folder
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = Number.NaN;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new LockedError(`${what} (pid ${owner}) holds ${path}`);
    }
    // Stale: the owner died without releasing. Remove it and try again.
    rmSync(path, { force: true });
  }
  throw new LockedError(`could not take ${path}`);
}
