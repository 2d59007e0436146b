#!/usr/bin/env node
// Launcher. Runs the bundled CLI (dist/cli/*.mjs, `npm run bundle`) when it is newer than every
// source file, else the TypeScript sources through tsx's loader — so an edited checkout always
// runs what it says. An installation without development dependencies (no tsx) always runs the
// bundle. `intentlb healthd ...` goes to its own lean entry (the long-running health checker loads
// only its modules). INTENTLB_LAUNCH=tsx or =bundle forces one (bundle: fails when the bundle is
// missing).
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const argv = process.argv.slice(2);
const entry = argv[0] === 'healthd' ? 'healthd' : 'intentlb';
const bundle = new URL(`dist/cli/${entry}.mjs`, root);

function bundleMtime() {
  try {
    return statSync(bundle).mtimeMs;
  } catch {
    return undefined;
  }
}

function sourcesNewerThan(built) {
  const src = new URL('src/', root);
  for (const file of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (file.isFile() && statSync(`${file.parentPath ?? file.path}/${file.name}`).mtimeMs > built)
      return true;
  }
  return false;
}

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

const how = process.env.INTENTLB_LAUNCH ?? 'auto';
const built = how === 'tsx' ? undefined : bundleMtime();
let register;
if (how === 'tsx' || (how === 'auto' && (built === undefined || sourcesNewerThan(built)))) {
  register = await tsxRegister();
  if (register === undefined && (how === 'tsx' || built === undefined)) {
    process.stderr.write(
      'intentlb: neither a bundle (dist/cli/) nor tsx is installed: run `npm ci` (with development dependencies) once to build dist/\n',
    );
    process.exit(70);
  }
}
let main;
if (register === undefined) {
  ({ main } = await import(bundle.href));
} else {
  register();
  ({ main } = await import(entry === 'healthd' ? '../src/cli/healthd-main.ts' : '../src/cli/main.ts'));
}
process.exitCode = await main(argv);
