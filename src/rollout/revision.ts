/**
 * Which revision of the site a rollout ships, and the archive that carries it: the git commit of a
 * clean checkout (the reviewed and merged state), or the intent revision when the site is not in
 * git. A checkout with uncommitted changes under the site is refused: what runs on the nodes must
 * be a commit someone can look up.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../deploy/errors.ts';

export class RevisionError extends OperationError {}

function git(dir: string, args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** The commit the site folder is checked out at, or null when it is not in a git work tree. */
export function siteCommit(dir: string, allowDirty = false): string | null {
  const head = git(dir, ['rev-parse', '--verify', 'HEAD']);
  if (head === null) return null;
  const dirty = git(dir, ['status', '--porcelain', '--', '.']);
  if (dirty !== null && dirty !== '' && !allowDirty) {
    throw new RevisionError(
      `${dir} has uncommitted changes:\n${dirty}\ncommit them (a rollout ships a commit), or pass --allow-dirty`,
    );
  }
  return dirty === '' || dirty === null ? head : `${head}-dirty`;
}

/**
 * Writes `<work>/site.tar.gz`: the site folder (without .git) and, as its last entry, `REVISION`
 * (the playbook unpacks until REVISION exists, so a half-unpacked tree is never taken for done).
 */
export function writeArchive(siteDir: string, revision: string, work: string): string {
  const archive = join(work, 'site.tar.gz');
  writeFileSync(join(work, 'REVISION'), `${revision}\n`);
  execFileSync('tar', ['-czf', archive, '--exclude=.git', '-C', siteDir, '.', '-C', work, 'REVISION'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return archive;
}
