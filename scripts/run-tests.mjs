#!/usr/bin/env node
// Runs every test file with node:test. Node 20's `--test` finds no .ts files from a directory
// or glob, so the list is built here; no file found is a failure, not a silent pass.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const unitOnly = process.argv.includes('--unit');
const interopOnly = process.argv.includes('--interop');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk(join(root, 'test')).map((p) => relative(root, p));
// Integration tests (real daemons in namespaces) live under test/integration and run after the unit tests.
// Interop runs (a booted systemd, FRR, Debian's own servers behind the VIPs, testssl.sh) live under
// test/interop: they are heavier than CI's 15-minute budget allows, so they run only with --interop
// (scripts/test-interop.sh, before every release), and then alone.
const isInterop = (f) => f.startsWith('test/interop/');
files = files.filter((f) => isInterop(f) === interopOnly);
if (unitOnly) files = files.filter((f) => !f.startsWith('test/integration/'));
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
// Two phases. The unit files run two at a time. The integration files then run one at a time: they
// start real daemons in namespaces with BFD at 50 ms × 3, and a CPU-bound unit file beside them
// on a 2-core CI machine can starve BIRD long enough for a session to flap, which fails a test
// for a reason that is not its own.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const isIntegration = (f) => f.startsWith('test/integration/');
const phases = [
  { files: files.filter((f) => !isIntegration(f)), concurrency },
  { files: files.filter(isIntegration), concurrency: process.env.TEST_INTEGRATION_CONCURRENCY ?? '1' },
].filter((p) => p.files.length > 0);
let status = 0;
for (const phase of phases) {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${phase.concurrency}`,
      '--test-reporter=spec',
      ...phase.files,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
