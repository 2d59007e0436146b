import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CODES } from '../../src/diagnostics/index.ts';
import { backendSchema, serviceSchema, siteSchema } from '../../src/vocabulary/schemas.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** `## CODE` headings of docs/diagnostics.md, in order. */
function documentedCodes(): string[] {
  return [...read('docs/diagnostics.md').matchAll(/^## ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1]!);
}

/** Rule names passed to `scope.infer(path, '<rule>', detail)` anywhere in src/infer. */
function inferenceRules(): string[] {
  const dir = join(ROOT, 'src/infer');
  const rules = new Set<string>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const m of text.matchAll(/scope\.infer\(\s*(?:'[^']*'|`[^`]*`)\s*,\s*'([^']+)'/g)) rules.add(m[1]!);
  }
  return [...rules].sort();
}

describe('docs/diagnostics.md', () => {
  it('has a `## CODE` section for every diagnostic code', () => {
    const documented = new Set(documentedCodes());
    const missing = Object.keys(CODES).filter((c) => !documented.has(c));
    assert.deepEqual(missing, [], `undocumented codes: ${missing.join(', ')}`);
  });

  it('documents no code that does not exist, and each once', () => {
    const documented = documentedCodes();
    assert.deepEqual(
      documented.filter((c) => !(c in CODES)),
      [],
    );
    assert.equal(new Set(documented).size, documented.length);
  });

  it('gives every code an example, the message and a fix', () => {
    const text = read('docs/diagnostics.md');
    for (const code of Object.keys(CODES)) {
      const section = text.split(new RegExp(`^## ${code}\\s*$`, 'm'))[1]?.split(/^## /m)[0] ?? '';
      for (const part of ['**What it means.**', '**Example.**', '**It prints.**', '**How to fix.**'])
        assert.ok(section.includes(part), `${code} lacks ${part}`);
    }
  });
});

describe('docs/intent.md', () => {
  it('finds the inference rules in the sources (the scan works)', () => {
    const rules = inferenceRules();
    for (const known of ['mode-from-protocol', 'vip-from-dns', 'ports-from-protocol', 'servers-from-group'])
      assert.ok(rules.includes(known), known);
  });

  it('mentions every inference rule', () => {
    const text = read('docs/intent.md');
    const missing = inferenceRules().filter((r) => !text.includes(`\`${r}\``));
    assert.deepEqual(missing, [], `rules missing from docs/intent.md: ${missing.join(', ')}`);
  });

  it('has a section with an example for every service key', () => {
    const sections = read('docs/intent.md')
      .split(/^### /m)
      .slice(1)
      .map((sec) => ({ heading: sec.split('\n')[0]!, body: sec.split(/^## /m)[0]! }));
    for (const key of Object.keys(serviceSchema.shape)) {
      const section = sections.find((sec) => sec.heading.includes(`\`${key}\``));
      assert.ok(section, `no \`### \`${key}\`\` section`);
      assert.match(section.body, /```yaml\n/, `the ${key} section has no example`);
    }
  });

  it('names every backend key and every site.yaml key', () => {
    const text = read('docs/intent.md');
    for (const key of [...Object.keys(backendSchema.shape), ...Object.keys(siteSchema.shape)])
      assert.ok(text.includes(`\`${key}`), key);
  });

  it('covers the editor set-up', () => {
    const text = read('docs/intent.md');
    assert.match(text, /intentlb schema/);
    assert.match(text, /# yaml-language-server: \$schema=/);
    assert.match(text, /"yaml\.schemas"/);
  });
});
