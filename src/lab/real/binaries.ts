/** Finds the binaries the chosen daemons declare; what is missing is named with its Debian package. */
import { accessSync, constants, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RealDaemon } from './types.ts';

export type BinaryPaths = ReadonlyMap<string, string>;

/** Runs a daemon that declares a `user` as that user (util-linux). */
export const SETPRIV = '/usr/bin/setpriv';

/**
 * Every declared binary of `daemons` (and setpriv for those with a `user`) found, or the problems:
 * one line per daemon with missing binaries.
 */
export function locateBinaries(
  daemons: readonly RealDaemon[],
): { ok: true; paths: BinaryPaths } | { ok: false; problems: string[] } {
  const paths = new Map<string, string>();
  const problems: string[] = [];
  for (const d of daemons) {
    const missing: string[] = [];
    for (const declared of [...d.binaries, ...(d.user === undefined ? [] : [SETPRIV])]) {
      const found = locate(declared);
      if (found === undefined) missing.push(declared);
      else paths.set(declared, found);
    }
    if (missing.length > 0) {
      problems.push(
        `lab up --backends real needs ${d.daemon} for ${d.protocol}: missing ${missing.join(', ')} (apt-get install ${d.package})`,
      );
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, paths };
}

/** An executable path; a `*` folder is the highest version present (`/usr/lib/postgresql/15/...`). */
function locate(declared: string): string | undefined {
  const star = declared.indexOf('*');
  if (star < 0) return executable(declared) ? declared : undefined;
  const parent = dirname(declared.slice(0, star + 1));
  const rest = declared.slice(star + 1);
  let versions: string[];
  try {
    versions = readdirSync(parent);
  } catch {
    return undefined; // the versioned folder's parent is not there: the package is not installed
  }
  const candidates = versions
    .filter((v) => basename(v) === v && /^[0-9][0-9.]*$/.test(v))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    .map((v) => join(parent, v) + rest);
  return candidates.find(executable);
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable
  }
}
