#!/usr/bin/env node
// Bundles the CLI into plain JavaScript with esbuild (a pinned development dependency):
// dist/cli/intentlb.mjs (every command) and dist/cli/healthd.mjs (`intentlb healthd` alone, for the
// long-running health checker). bin/intentlb.mjs runs a bundle when it is newer than every source
// file, and the sources through tsx otherwise: the daemons then run without a TypeScript compiler
// in memory (~35 MiB less RSS) and every command starts faster. `npm ci` runs this (`prepare`);
// `npm run bundle` runs it by hand.
//
// An installation without development dependencies (`npm ci --omit=dev` in a tree that already
// holds dist/, e.g. one copied to a node) has no esbuild: it keeps the bundles it has. Without
// bundles and without esbuild there is nothing to run, and that is an error.
//
// The bundles sit two folders below the root, like every source module, so the one
// `import.meta.url` that finds the installation (src/runtime/paths.ts) works in both.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const ENTRIES = { intentlb: 'src/cli/main.ts', healthd: 'src/cli/healthd-main.ts' };

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  const missing = Object.keys(ENTRIES).filter((name) => !existsSync(`${root}dist/cli/${name}.mjs`));
  if (missing.length === 0) {
    console.error('bundle: no esbuild (installed without development dependencies); keeping dist/cli/');
    process.exit(0);
  }
  console.error(
    `bundle: no esbuild and no dist/cli/${missing[0]}.mjs: run \`npm ci\` with development dependencies once, or copy a built tree`,
  );
  process.exit(1);
}

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
