/**
 * How the lab starts its backend program. Through tsx each Node process spends ~0.35 s of CPU
 * compiling before it serves; a site has dozens of backend hosts, so the lab bundles the program
 * once into plain JavaScript (esbuild, a pinned development dependency) and starts that in ~0.06 s.
 * Without esbuild (an install without development dependencies) it falls back to tsx.
 */
import { join } from 'node:path';
import { REPO } from '../runtime/paths.ts';

const MAIN = join(REPO, 'src', 'lab', 'backend', 'main.ts');

export { REPO };

interface Esbuild {
  build(options: {
    entryPoints: string[];
    bundle: boolean;
    platform: 'node';
    format: 'esm';
    target: string;
    outfile: string;
    logLevel: 'silent';
  }): Promise<unknown>;
}

/** The command line (without arguments) that runs the backend program; bundles into `dir`. */
export async function backendCommand(dir: string): Promise<string[]> {
  const outfile = join(dir, 'backend.mjs');
  try {
    const esbuild = (await import('esbuild')) as Esbuild;
    await esbuild.build({
      entryPoints: [MAIN],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      outfile,
      logLevel: 'silent',
    });
    return [process.execPath, outfile];
  } catch {
    // No esbuild, or it cannot write here: the backend runs from source (slower to start).
    return [process.execPath, '--import', 'tsx', MAIN];
  }
}
