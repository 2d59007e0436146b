#!/usr/bin/env node
// Launcher. Runs the bundled CLI (dist/cli/*.mjs, `npm run bundle`) when it is newer than every
// source file, else the TypeScript sources through tsx's loader — so an edited checkout always
// runs what it says. `intentlb healthd ...` goes to its own lean entry (the long-running health
// checker loads only its modules). INTENTLB_LAUNCH=tsx or =bundle forces one (bundle: fails when
// the bundle is missing).
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const argv = process.argv.slice(2);
const entry = argv[0] === 'healthd' ? 'healthd' : 'intentlb';
const bundle = new URL(`dist/cli/${entry}.mjs`, root);

function bundleIsFresh() {
  let built;
  try {
    built = statSync(bundle).mtimeMs;
  } catch {
    return false;
  }
  const src = new URL('src/', root);
  for (const file of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (file.isFile() && statSync(`${file.parentPath ?? file.path}/${file.name}`).mtimeMs > built)
      return false;
  }
  return true;
}

const how = process.env.INTENTLB_LAUNCH ?? 'auto';
let main;
if (how === 'bundle' || (how === 'auto' && bundleIsFresh())) {
  ({ main } = await import(bundle.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(entry === 'healthd' ? '../src/cli/healthd-main.ts' : '../src/cli/main.ts'));
}
process.exitCode = await main(argv);
