import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';

// bin/intentlb.mjs runs the bundle (dist/cli/*.mjs, scripts/bundle.mjs) when it is fresh and the
// TypeScript sources through tsx otherwise: both must be the same program.
const ROOT = new URL('../../', import.meta.url).pathname;

function run(args: string[], launch: 'bundle' | 'tsx'): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}bin/intentlb.mjs`, ...args],
      { cwd: ROOT, env: { ...process.env, INTENTLB_LAUNCH: launch, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : Number(err.code ?? 1), out: `${stdout}\n--\n${stderr}` }),
    );
  });
}

describe('the launcher: bundle and sources are the same program', () => {
  before(async () => {
    const r = await new Promise<number>((resolve) =>
      execFile(process.execPath, [`${ROOT}scripts/bundle.mjs`], { cwd: ROOT }, (err) =>
        resolve(err === null ? 0 : 1),
      ),
    );
    assert.equal(r, 0, 'scripts/bundle.mjs builds');
  });

  for (const args of [
    ['check', 'examples/campus', '--format', 'json'],
    ['explain', 'examples/campus', 'web/wiki'],
    ['healthd', '--help'],
    ['healthd', 'status', '--config', '/nonexistent/healthd.yaml'],
    ['no-such-command'],
  ]) {
    it(`intentlb ${args.join(' ')}`, async () => {
      const [bundle, tsx] = await Promise.all([run(args, 'bundle'), run(args, 'tsx')]);
      assert.deepEqual(bundle, tsx);
    });
  }

  it('the health checker’s bundle holds none of the compiler, the lab or deploy', () => {
    const healthd = readFileSync(`${ROOT}dist/cli/healthd.mjs`, 'utf8');
    const all = readFileSync(`${ROOT}dist/cli/intentlb.mjs`, 'utf8');
    for (const marker of ['function registerLab', 'function registerDeploy', 'function compileSite']) {
      assert.ok(all.includes(marker), `${marker} is in the full bundle`);
      assert.ok(!healthd.includes(marker), `${marker} is not in the healthd bundle`);
    }
    assert.ok(healthd.includes('function registerHealthd'));
  });
});
