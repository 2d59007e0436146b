import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { listFiles } from './files.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * Whether this run rewrites goldens instead of comparing (`UPDATE_GOLDENS=1`, what
 * `npm run goldens:update` sets). Under CI (`CI` set) update mode is refused: a CI run that
 * rewrote its goldens would pass whatever the renderers produce.
 */
export function updatingGoldens(): boolean {
  if (process.env.UPDATE_GOLDENS !== '1') return false;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false')
    throw new Error('UPDATE_GOLDENS=1 under CI: goldens are only rewritten on purpose, never by CI');
  return true;
}

/**
 * Compares `actual` with the golden file at `path` (relative to the repository root). In update
 * mode it writes the file instead, so goldens only change on purpose.
 */
export function assertGolden(path: string, actual: string): void {
  const file = resolve(ROOT, path);
  if (updatingGoldens()) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(file, 'utf8');
  } catch {
    assert.fail(`golden file ${path} is missing: run npm run goldens:update to create it`);
  }
  assert.equal(
    actual,
    expected,
    `${path} differs from the rendered output (npm run goldens:update rewrites it)`,
  );
}

/**
 * A whole golden folder (relative to the repository root): exactly these files, byte for byte.
 * In update mode the folder is replaced by them.
 */
export function assertGoldenTree(dir: string, files: readonly { path: string; content: string }[]): void {
  const root = resolve(ROOT, dir);
  if (updatingGoldens()) {
    rmSync(root, { recursive: true, force: true });
    for (const f of files) {
      mkdirSync(dirname(join(root, f.path)), { recursive: true });
      writeFileSync(join(root, f.path), f.content);
    }
    return;
  }
  assert.deepEqual(
    files.map((f) => f.path).sort(),
    listFiles(root),
    `the set of files in ${dir} changed: run npm run goldens:update and review the diff`,
  );
  for (const f of files) assertGolden(join(dir, f.path), f.content);
}
