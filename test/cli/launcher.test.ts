import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

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
    for (const marker of ['function registerLab', 'function registerApply', 'function compileSite']) {
      assert.ok(all.includes(marker), `${marker} is in the full bundle`);
      assert.ok(!healthd.includes(marker), `${marker} is not in the healthd bundle`);
    }
    assert.ok(healthd.includes('function registerHealthd'));
  });

  it('the health checker’s bundle pulls in no compiler stage: healthd.yaml goes through yaml-schema alone', async () => {
    // The module graph of the healthd entry, as scripts/bundle.mjs bundles it.
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: [`${ROOT}src/cli/healthd-main.ts`],
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs).sort();
    for (const needed of [
      'src/healthd/daemon.ts',
      'src/healthd/config.ts',
      'src/yaml-schema/validate-file.ts',
    ])
      assert.ok(inputs.includes(needed), `${needed} is in the healthd bundle`);
    const stages = [
      'validate',
      'merge',
      'infer',
      'check',
      'model',
      'render',
      'build',
      'deploy',
      'lab',
      'verify',
    ];
    const forbidden = inputs.filter(
      (f) =>
        stages.some((s) => f.startsWith(`src/${s}/`)) ||
        // The compiler's entry, the site reader and the intent's schemas.
        ['src/compile.ts', 'src/load/load.ts', 'src/load/site-fs.ts', 'src/vocabulary/schemas.ts'].includes(
          f,
        ) ||
        (f.startsWith('src/cli/') &&
          !/^src\/cli\/(healthd-main|healthd-command|io|runner|print-diagnostics)\.ts$/.test(f)),
    );
    assert.deepEqual(forbidden, []);
  });
});

describe('an installation without development dependencies (npm ci --omit=dev)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'intentlb-omit-dev-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cli = (args: string[]): { code: number; out: string } => {
    try {
      const out = execFileSync(process.execPath, [join(dir, 'bin/intentlb.mjs'), ...args], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
      return { code: 0, out };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, out: `${err.stdout}${err.stderr}` };
    }
  };

  before(() => {
    execFileSync(process.execPath, [`${ROOT}scripts/bundle.mjs`], { cwd: ROOT });
    for (const p of [
      'bin',
      'dist',
      'src',
      'scripts',
      'examples',
      'package.json',
      'package-lock.json',
      '.npmrc',
    ])
      cpSync(join(ROOT, p), join(dir, p), { recursive: true });
    // `prepare` runs too and must keep the copied bundles although esbuild is not installed.
    execFileSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: 'ignore',
      timeout: 300_000,
    });
  });

  it('has neither tsx nor esbuild, and runs the bundle', () => {
    assert.equal(existsSync(join(dir, 'node_modules/tsx')), false);
    assert.equal(existsSync(join(dir, 'node_modules/esbuild')), false);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(cli(['--version']), { code: 0, out: `${pkg.version}\n` });
    const r = cli(['check', 'examples/campus']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /ok$/m);
  });

  it('runs the bundle even when a source file is newer (no tsx to run the sources with)', () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'src/compile.ts'), later, later);
    const r = cli(['check', 'examples/campus', '--format', 'json']);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(JSON.parse(r.out), { diagnostics: [] });
  });

  it('says what to do when there is neither a bundle nor tsx', () => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    const r = cli(['check', 'examples/campus']);
    assert.equal(r.code, 70);
    assert.match(r.out, /npm ci/);
  });
});
