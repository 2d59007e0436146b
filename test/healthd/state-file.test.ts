import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readDrain, writeStateFile } from '../../src/healthd/state-file.ts';
import { withTempDir } from '../helpers/tools.ts';

describe("healthd's state file", () => {
  it('remembers a drain with its time, forgets it on undrain; missing or unreadable is not drained', async () => {
    await withTempDir((dir) => {
      const file = join(dir, 'sub/healthd-state.json');
      assert.deepEqual(readDrain(undefined), { drained: false });
      assert.deepEqual(readDrain(file), { drained: false }, 'no file yet');
      writeStateFile(file, true, new Date('2026-12-03T06:00:00Z'));
      assert.deepEqual(readDrain(file), { drained: true, since: '2026-12-03T06:00:00.000Z' });
      writeStateFile(file, false, new Date('2026-12-03T07:00:00Z'));
      assert.equal(readFileSync(file, 'utf8'), '{"drained":false}\n');
      assert.deepEqual(readDrain(file), { drained: false });
      writeFileSync(file, '{"drained": tru');
      const broken = readDrain(file);
      assert.equal(broken.drained, false);
      assert.match(broken.error ?? '', /^not JSON/);
      writeFileSync(file, '{}');
      assert.deepEqual(readDrain(file), { drained: false, error: 'no "drained" in the state file' });
    });
  });
});
