/**
 * The node side of the rollout's stage step: the site archive (tar.gz, base64 on stdin, as the
 * playbook's one `command` task passes it) unpacked into `<sites>/<revision>`, complete or not at
 * all (unpacked beside, then renamed), so an interrupted rollout never leaves half a site.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OperationError } from '../deploy/errors.ts';

export class StageError extends OperationError {}

export function stageSite(dest: string, base64: string): 'staged' | 'present' {
  if (existsSync(join(dest, 'REVISION'))) return 'present';
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync('tar', ['-xz', '-C', tmp], {
      input: Buffer.from(base64, 'base64'),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    if (!existsSync(join(tmp, 'REVISION')))
      throw new StageError('the site archive has no REVISION: incomplete');
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof StageError) throw e;
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    throw new StageError(`cannot unpack the site archive: ${why}`);
  }
  return 'staged';
}

/** Reads all of stdin (the archive). */
export function readStdin(): string {
  return readFileSync(0, 'utf8');
}
