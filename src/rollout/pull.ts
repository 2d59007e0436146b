/**
 * Pull mode (the hourly deployment): a node fetches the site's git repository, checks the newest
 * commit of its branch (signed, when required; not older than what it runs), unpacks that commit
 * and applies it with the same per-node apply as a rollout, under the same deploy lock.
 *
 * The git work is here; the decision is `decidePull`, a pure function.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../deploy/errors.ts';

export class PullError extends OperationError {}

export type PullDecision = { kind: 'current' } | { kind: 'apply' } | { kind: 'refuse'; reason: string };

/**
 * What to do with `candidate` on a node that runs `running` (undefined: no commit recorded yet).
 * `isAncestor(a, b)`: a is b or one of its ancestors; `known(c)`: the repository has commit c.
 */
export function decidePull(o: {
  running: string | undefined;
  candidate: string;
  known(commit: string): boolean;
  isAncestor(a: string, b: string): boolean;
}): PullDecision {
  if (o.running === o.candidate) return { kind: 'current' };
  if (o.running === undefined) return { kind: 'apply' };
  if (!o.known(o.running)) {
    return {
      kind: 'refuse',
      reason: `the node runs ${o.running}, which the repository does not have: cannot tell whether ${o.candidate} is newer`,
    };
  }
  if (o.isAncestor(o.candidate, o.running)) {
    return { kind: 'refuse', reason: `${o.candidate} is older than ${o.running}, which the node runs` };
  }
  if (!o.isAncestor(o.running, o.candidate)) {
    return {
      kind: 'refuse',
      reason: `${o.candidate} does not descend from ${o.running}, which the node runs (history rewritten?)`,
    };
  }
  return { kind: 'apply' };
}

function git(repo: string, args: string[], env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync('git', ['-C', repo, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env !== undefined && { env }),
    }).trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new PullError(`git ${args[0]}: ${(err.stderr ?? err.message).trim()}`);
  }
}

function gitOk(repo: string, args: string[]): boolean {
  try {
    execFileSync('git', ['-C', repo, ...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The node's local copy of the site repository: a bare repository under the state folder. */
export function pullRepo(stateDir: string): string {
  return join(stateDir, 'pull', 'repo.git');
}

/** Fetches `branch` of `url` into the local bare repository; returns the branch's commit. */
export function fetchBranch(repo: string, url: string, branch: string): string {
  if (!existsSync(join(repo, 'HEAD'))) {
    mkdirSync(repo, { recursive: true });
    git(repo, ['init', '--quiet', '--bare']);
  }
  const ref = `refs/intentlb/${branch}`;
  git(repo, ['fetch', '--quiet', '--no-tags', url, `+refs/heads/${branch}:${ref}`]);
  return git(repo, ['rev-parse', '--verify', `${ref}^{commit}`]);
}

export function decideFor(repo: string, running: string | undefined, candidate: string): PullDecision {
  return decidePull({
    running,
    candidate,
    known: (c) => /^[0-9a-f]{40}$/.test(c) && gitOk(repo, ['cat-file', '-e', `${c}^{commit}`]),
    isAncestor: (a, b) => gitOk(repo, ['merge-base', '--is-ancestor', a, b]),
  });
}

/**
 * `git verify-commit`: a good signature by a key the node trusts — the GnuPG keyring
 * (`$GNUPGHOME`) or, for SSH signatures, an allowed-signers file. Throws when not.
 */
export function verifyCommit(repo: string, commit: string, allowedSigners?: string): void {
  const cfg = allowedSigners === undefined ? [] : ['-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`];
  try {
    execFileSync('git', ['-C', repo, ...cfg, 'verify-commit', commit], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? '').trim();
    throw new PullError(
      `${commit} has no good signature by a trusted key${why ? `: ${why.split('\n')[0]}` : ''}`,
    );
  }
}

/**
 * Unpacks the site folder (`path` in the repository, '' for its root) of `commit` into
 * `<sites>/<commit>`, complete or not at all (unpacked beside, then renamed). Returns the folder.
 */
export function exportSite(repo: string, commit: string, path: string, sites: string): string {
  const dest = join(sites, commit);
  if (existsSync(dest)) return dest;
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tar = join(sites, `${commit}.tar-${process.pid}`);
  try {
    git(repo, ['archive', '--format=tar', '-o', tar, path === '' ? commit : `${commit}:${path}`]);
    execFileSync('tar', ['-xf', tar, '-C', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, dest);
  } finally {
    rmSync(tar, { force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
  return dest;
}
