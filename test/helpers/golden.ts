import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * Compares `actual` with the golden file at `path` (relative to the repository root). With
 * `UPDATE_GOLDENS=1` it writes the file instead, so goldens only change on purpose.
 */
export function assertGolden(path: string, actual: string): void {
  const file = resolve(ROOT, path);
  if (process.env.UPDATE_GOLDENS === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(file, 'utf8');
  } catch {
    assert.fail(`golden file ${path} is missing: run the test with UPDATE_GOLDENS=1 to create it`);
  }
  assert.equal(actual, expected, `${path} differs from the rendered output (UPDATE_GOLDENS=1 rewrites it)`);
}
