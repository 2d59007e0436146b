import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { renderSite } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import type { Diagnostic } from '../../src/diagnostics/index.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { RenderedFile } from '../../src/render/types.ts';

export const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;
/** Goldens are rendered as of this date, so certificate-expiry warnings never drift. */
export const FIXTURE_NOW = new Date('2026-11-22T00:00:00Z');

export function fixtureCases(): string[] {
  return readdirSync(FIXTURES)
    .filter((n) => !n.startsWith('_') && statSync(join(FIXTURES, n)).isDirectory())
    .sort();
}

/** Compiles a fixture's site and renders every node; golden comparisons leave certs/ out. */
export async function renderFixture(
  name: string,
): Promise<{ nodes: { name: string; files: RenderedFile[] }[]; diagnostics: Diagnostic[] }> {
  const root = join(FIXTURES, name, 'site');
  const l = load(diskFs(root));
  const c = await compile(l.value, { now: FIXTURE_NOW });
  if (!c.model) return { nodes: [], diagnostics: [...l.diagnostics, ...c.diagnostics] };
  return {
    nodes: renderSite(c.model, l.value.sources, l.value.certs),
    diagnostics: [...l.diagnostics, ...c.diagnostics],
  };
}

export function isGolden(path: string): boolean {
  return !path.startsWith('certs/');
}

/** Every file below a folder, relative, with `/`. */
export function listFiles(dir: string, prefix = ''): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(dir, prefix));
  } catch {
    return [];
  }
  for (const n of names.sort()) {
    const rel = prefix ? `${prefix}/${n}` : n;
    if (statSync(join(dir, rel)).isDirectory()) out = out.concat(listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}
