import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CODES } from '../../src/diagnostics/index.ts';
import { TRANSPORT_CODES } from '../../src/healthd/control-client.ts';
import { CONTROL_CODES } from '../../src/healthd/control-protocol.ts';
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

/** The codes in the table of the `### <heading>` section of docs/healthd.md, in order. */
function healthdTableCodes(heading: string): string[] {
  const section = read('docs/healthd.md')
    .split(new RegExp(`^### ${heading}\\s*$`, 'm'))[1]
    ?.split(/^#/m)[0];
  assert.ok(section !== undefined, `docs/healthd.md has a \`### ${heading}\` section`);
  return [...section.matchAll(/^\| `(E_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

/** `code: 'E_…'` literals written in src/healthd, outside the modules named. */
function healthdCodeLiterals(except: readonly string[]): string[] {
  const dir = join(ROOT, 'src/healthd');
  const codes = new Set<string>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts') && !except.includes(f))) {
    for (const m of readFileSync(join(dir, name), 'utf8').matchAll(/\bcode: '(E_[A-Z0-9_]+)'/g))
      codes.add(m[1]!);
  }
  return [...codes].sort();
}

describe('docs/healthd.md: the control socket codes', () => {
  for (const [heading, list] of [
    ['Reply codes', CONTROL_CODES],
    ['Client codes', TRANSPORT_CODES],
  ] as const) {
    it(`documents every code of ${heading}, no code that does not exist, each once`, () => {
      const documented = healthdTableCodes(heading);
      assert.deepEqual([...documented].sort(), Object.keys(list).sort());
      assert.equal(new Set(documented).size, documented.length);
    });
  }

  it('the daemon replies with exactly the listed codes (none unused, none unlisted)', () => {
    // config*.ts hold diagnostic codes (healthd.yaml), control-client.ts the client's own.
    const used = healthdCodeLiterals(['config.ts', 'config-schema.ts', 'control-client.ts']);
    assert.ok(used.includes('E_UNKNOWN_VIP'), 'the scan finds the reply codes');
    assert.deepEqual(used, Object.keys(CONTROL_CODES).sort());
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
