import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The layers of docs/architecture.md, kept by the import graph: a module may import only from its
// own layer and the layers it sits on. Type-only imports count too: they tie the layers as tightly.
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** The top-level area of a module: its folder below src/, or the file for src/*.ts. */
function area(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.ts$/, '');
}

const COMPILER = [
  'diagnostics',
  'vocabulary',
  'load',
  'merge',
  'validate',
  'infer',
  'check',
  'model',
  'compile',
  'yaml-schema',
];
const LEAF = ['fs', 'runtime', 'errors'];

/** For each area, the areas it must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  ...Object.fromEntries(
    COMPILER.map((a) => [a, ['render', 'build', 'deploy', 'lab', 'healthd', 'cli', 'verify', 'rollout']]),
  ),
  render: ['build', 'deploy', 'lab', 'healthd', 'cli', 'verify', 'rollout'],
  build: ['deploy', 'lab', 'healthd', 'cli', 'verify', 'rollout'],
  // healthd.yaml is checked through yaml-schema (the compiler's own zod → Diagnostic path), never
  // through a compiler stage: the health checker's bundle stays small.
  healthd: [
    'deploy',
    'lab',
    'cli',
    'render',
    'build',
    'verify',
    'rollout',
    'validate',
    'check',
    'infer',
    'merge',
    'model',
    'compile',
  ],
  deploy: ['lab', 'cli', 'verify', 'rollout'],
  verify: ['cli', 'lab', 'rollout'],
  lab: ['cli', 'rollout'],
  rollout: ['cli', 'lab', 'verify', 'healthd'],
  ...Object.fromEntries(
    LEAF.map((a) => [
      a,
      [...COMPILER, 'render', 'build', 'deploy', 'lab', 'healthd', 'cli', 'verify', 'rollout'],
    ]),
  ),
};

function modules(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(modules(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s));
}

describe('layers (docs/architecture.md)', () => {
  const files = modules(SRC);

  it('finds the modules and their imports', () => {
    assert.ok(files.length > 100, `only ${files.length} modules under src/`);
    assert.ok(files.some((f) => importsOf(f).length > 0));
  });

  it('every area has a rule (a new folder under src/ must be placed in a layer)', () => {
    const known = new Set([...Object.keys(FORBIDDEN), 'cli']);
    const unknown = [...new Set(files.map(area))].filter((a) => !known.has(a));
    assert.deepEqual(unknown, []);
  });

  it('no module imports a layer above its own', () => {
    const violations: string[] = [];
    for (const f of files) {
      const from = area(f);
      for (const target of importsOf(f)) {
        const to = area(target);
        if (FORBIDDEN[from]?.includes(to)) violations.push(`${relative(SRC, f)} -> ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
