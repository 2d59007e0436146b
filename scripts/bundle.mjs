#!/usr/bin/env node
// Bundles the CLI into plain JavaScript with esbuild (the compiler tsx itself uses):
// dist/cli/intentlb.mjs (every command) and dist/cli/healthd.mjs (`intentlb healthd` alone, for the
// long-running health checker). bin/intentlb.mjs runs a bundle when it is newer than every source
// file, and the sources through tsx otherwise: the daemons then run without a TypeScript compiler
// in memory (~35 MiB less RSS) and every command starts faster. `npm ci` runs this (`prepare`);
// `npm run bundle` runs it by hand.
//
// The bundles sit two folders below the root, like every source module, so the one
// `import.meta.url` that finds the installation (src/runtime/paths.ts) works in both.
import { mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const esbuild = createRequire(fileURLToPath(import.meta.resolve('tsx')))('esbuild');
const ENTRIES = { intentlb: 'src/cli/main.ts', healthd: 'src/cli/healthd-main.ts' };

mkdirSync(`${root}dist/cli`, { recursive: true });
for (const [name, entry] of Object.entries(ENTRIES)) {
  const outfile = `${root}dist/cli/${name}.mjs`;
  const tmp = `${outfile}.tmp-${process.pid}`;
  await esbuild.build({
    entryPoints: [`${root}${entry}`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies stay in node_modules: one copy, their own licences and files.
    packages: 'external',
    outfile: tmp,
    logLevel: 'warning',
  });
  // Renamed into place: a launcher never sees a half-written bundle.
  renameSync(tmp, outfile);
}
