/**
 * Where intentlb itself is installed. Every module that needs a path of the installation takes it
 * from here, so the one `import.meta.url` that computes it sits at the same depth (two folders
 * below the root) in the sources (`src/runtime/paths.ts`) and in the bundle
 * (`dist/cli/intentlb.mjs`, see scripts/bundle.mjs).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installation's root folder (with `bin/`, `src/`, `node_modules/`), ending in `/`. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The launcher every process intentlb starts runs: `node bin/intentlb.mjs <command>`. */
export const BIN = join(REPO, 'bin', 'intentlb.mjs');
