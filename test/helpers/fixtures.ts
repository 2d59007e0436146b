import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { renderBuild } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import type { Diagnostic } from '../../src/diagnostics/index.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { RenderedFile } from '../../src/render/types.ts';

export { listFiles } from './files.ts';

export const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;
/** Invalid sites, one folder each, with the diagnostics they must produce (`expected.json`). */
export const ERROR_FIXTURES = join(FIXTURES, '_error_');
/** Goldens are rendered as of this date, so certificate-expiry warnings never drift. */
export const FIXTURE_NOW = new Date('2026-11-22T00:00:00Z');

export function fixtureCases(dir = FIXTURES): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('_') && statSync(join(dir, n)).isDirectory())
    .sort();
}

/** Compiles a fixture's site and renders every node and the site folder (`_site`); goldens leave certs/ out. */
export async function renderFixture(
  name: string,
  dir = FIXTURES,
): Promise<{ nodes: { name: string; files: RenderedFile[] }[]; diagnostics: Diagnostic[] }> {
  const root = join(dir, name, 'site');
  const l = load(diskFs(root));
  const c = await compile(l.value, { now: FIXTURE_NOW });
  if (!c.model) return { nodes: [], diagnostics: [...l.diagnostics, ...c.diagnostics] };
  return {
    nodes: renderBuild(c.model, l.value.sources, l.value.certs),
    diagnostics: [...l.diagnostics, ...c.diagnostics],
  };
}

export function isGolden(path: string): boolean {
  return !path.startsWith('certs/');
}
