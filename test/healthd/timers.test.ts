import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeClock } from './fake-clock.ts';

const DIR = fileURLToPath(new URL('../../src/healthd', import.meta.url));

/**
 * Where healthd may still read the clock or set a timer itself: timers.ts is the one place that
 * wraps Node's; the control client runs in the CLI process, not in the daemon.
 */
const ALLOWED = new Set(['timers.ts', 'control-client.ts']);
const DIRECT =
  /\b(?:setTimeout|clearTimeout|setImmediate|setInterval)\(|\bDate\.now\(|\bperformance\.now\(|\bnew Date\(\)|\bhrtime\b/g;

/** `line text` of every direct use in a source text; comments and `timers.` calls left out. */
function directIn(text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*(?:\*|\/\*\*)/.test(code)) return;
    for (const m of code.matchAll(DIRECT)) {
      if (/\btimers\.$/.test(code.slice(0, m.index))) continue;
      found.push(`${i + 1} ${line.trim()}`);
    }
  });
  return found;
}

function directUses(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.ts') && !ALLOWED.has(f))
    .flatMap((name) => directIn(readFileSync(join(DIR, name), 'utf8')).map((use) => `${name}:${use}`));
}

describe('healthd takes every timer and clock reading from Timers', () => {
  it('the scan sees a direct use (it works)', () => {
    const sample = [
      'const t = setTimeout(f, 1);',
      '// setTimeout(f, 1) in a comment',
      'const n = performance.now() + Date.now();',
      'this.timers.setTimeout(f, 1); timers.now();',
    ].join('\n');
    assert.deepEqual(
      directIn(sample).map((u) => Number(u.split(' ')[0])),
      [1, 3, 3],
    );
  });

  it('no module of src/healthd but timers.ts calls setTimeout, setImmediate, Date.now, performance.now', () => {
    assert.deepEqual(directUses(), []);
  });

  it('the fake clock runs immediates before timers, and timers in time order', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setImmediate(() => seen.push(`i@${clock.now()}`));
    await clock.advance(0);
    assert.deepEqual(seen, ['i@0']);
    await clock.advance(20);
    assert.deepEqual(seen, ['i@0', 'a@10', 'b@20']);
    assert.equal(clock.wall() - Date.UTC(2026, 0, 1), 20);
  });
});
