import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { LineCounter, parseDocument } from 'yaml';
import { parseFast } from '../../src/load/fast-yaml.ts';
import { lineStartsOf, positionsOf } from '../../src/load/positions.ts';
import { locate, parseSource } from '../../src/load/source-file.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The fast reader may give up on any text, but a text it accepts must read exactly as the `yaml`
 * library reads it: no errors there, the same data (key order and number types included), the same
 * node positions and the same line starts.
 */
function assertAgrees(text: string): boolean {
  const fast = parseFast(text);
  if (fast === undefined) return false;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const context = `for ${JSON.stringify(text)}`;
  assert.deepEqual(
    doc.errors.map((e) => e.code),
    [],
    `the library rejects a text the fast reader accepted ${context}`,
  );
  const data = doc.toJS();
  assert.deepStrictEqual(fast.data, data, `data ${context}`);
  assert.equal(inspect(fast.data, { depth: null }), inspect(data, { depth: null }), `key order ${context}`);
  assert.deepStrictEqual(fast.positions, positionsOf(doc.contents), `positions ${context}`);
  assert.deepStrictEqual(lineStartsOf(text), lines.lineStarts, `line starts ${context}`);
  return true;
}

// Documents of the intent files' shape, written in every style the reader takes and some it does
// not, with scalars and keys chosen to hit YAML's corner cases (core-schema tags, indicators).
type Node =
  | { t: 'scalar'; raw: string }
  | { t: 'map'; flow: boolean; entries: [string, Node][] }
  | { t: 'seq'; flow: boolean; compact: boolean; items: Node[] };

const KEYS = ['a', 'b', 'fqdn', 'backend', 'x.y', 'a-b', 'a/b', 'A_1', 'k9', 'g0s1'];
const ODD_KEYS = ['__proto__', 'constructor', '1', 'true', 'Null', '0x1F', '1e3', 'on', 'a b', '"q"', "'q'"];
const SCALARS = [
  'foo',
  'foo bar',
  "it's",
  'Research MySQL, leastconn by default.',
  '1',
  '-1',
  '+1',
  '007',
  '1.5',
  '.5',
  '1.',
  '1e3',
  '-2.5E-3',
  '0o17',
  '0x1F',
  '0b1',
  '1_000',
  '12:30',
  'true',
  'True',
  'FALSE',
  'yes',
  'off',
  'null',
  'NULL',
  '.inf',
  '-.Inf',
  '.nan',
  '2001:db8::1',
  '198.18.0.0/15',
  '/health',
  '^\\*\\ OK',
  'a#b',
  'a #b',
  'a:b',
  '-x',
  'x]',
  'x}',
  'x,y',
  'é',
  '"dq"',
  "'sq'",
  "'it''s'",
  '"a#b: c"',
  "''",
  '""',
];
/** Scalars the reader leaves to the library (indicators, escapes, keys in disguise). */
const ODD_SCALARS = [
  '~',
  'a: b',
  'a:',
  ':a',
  '-',
  '- x',
  '?x',
  '[x]',
  '{a',
  '@x',
  '`x',
  '%x',
  '!x',
  '!!str x',
  '&a x',
  '*a',
  '|',
  '>',
  '"a\\"b"',
  '"x" y',
  "'x'y",
];

const scalar = fc
  .oneof({ weight: 19, arbitrary: fc.constantFrom(...SCALARS) }, fc.constantFrom(...ODD_SCALARS))
  .map((raw): Node => ({ t: 'scalar', raw }));
const key = fc.oneof({ weight: 19, arbitrary: fc.constantFrom(...KEYS) }, fc.constantFrom(...ODD_KEYS));
const { node } = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.record({
      t: fc.constant('map' as const),
      flow: fc.boolean(),
      entries: fc.uniqueArray(fc.tuple(key, tie('node')), { maxLength: 4, selector: ([k]) => k }),
    }),
    fc.record({
      t: fc.constant('seq' as const),
      flow: fc.boolean(),
      compact: fc.boolean(),
      items: fc.array(tie('node'), { maxLength: 3 }),
    }),
  ),
}));

/** How the text is laid out: indentation step, spaces, comments, blank lines. */
interface Layout {
  step: number;
  gap: string;
  comments: boolean;
  blanks: boolean;
}
const layout = fc.record({
  step: fc.integer({ min: 1, max: 4 }),
  gap: fc.constantFrom(' ', '  '),
  comments: fc.boolean(),
  blanks: fc.boolean(),
});

function inline(n: Node, l: Layout): string {
  if (n.t === 'scalar') return n.raw;
  if (n.t === 'map') return `{${n.entries.map(([k, v]) => ` ${k}:${l.gap}${inline(v, l)}`).join(',')} }`;
  return `[${n.items.map((v) => inline(v, l)).join(', ')}]`;
}

/** Written as a block collection; an empty one is written `{}` or `[]`, as a block cannot be empty. */
const isBlock = (n: Node): boolean =>
  (n.t === 'map' && !n.flow && n.entries.length > 0) || (n.t === 'seq' && !n.flow && n.items.length > 0);
const note = (l: Layout, i: number): string => (l.comments && i % 2 === 0 ? ' # note' : '');

/** Block lines of a collection at column `col`; the first line may start after a `- `. */
function block(n: Node, col: number, l: Layout, first = ' '.repeat(col)): string[] {
  const pad = ' '.repeat(col);
  const out: string[] = [];
  const lead = (i: number): string => (i === 0 ? first : pad);
  if (n.t === 'map') {
    n.entries.forEach(([k, v], i) => {
      if (l.blanks && i > 0) out.push('');
      if (!isBlock(v)) out.push(`${lead(i)}${k}:${l.gap}${inline(v, l)}${note(l, i)}`);
      else {
        out.push(`${lead(i)}${k}:${note(l, i + 1)}`);
        const inner = v.t === 'seq' && v.compact ? col : col + l.step;
        out.push(...block(v, inner, l));
      }
    });
  } else if (n.t === 'seq') {
    n.items.forEach((v, i) => {
      if (!isBlock(v)) out.push(`${lead(i)}- ${inline(v, l)}${note(l, i)}`);
      else out.push(...block(v, col + 2, l, `${lead(i)}- `));
    });
  }
  return out;
}

const MUTATIONS = [
  ' ',
  '\n',
  ':',
  '-',
  '#',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '\t',
  'a',
  '&',
  '*',
  '!',
  '?',
  '\r',
  '|',
];
const mutation = fc.tuple(
  fc.nat(),
  fc.constantFrom('insert', 'delete', 'replace'),
  fc.constantFrom(...MUTATIONS),
);

function mutate(text: string, edits: [number, string, string][]): string {
  let t = text;
  for (const [at, kind, c] of edits) {
    const i = t.length === 0 ? 0 : at % t.length;
    t =
      kind === 'insert'
        ? t.slice(0, i) + c + t.slice(i)
        : t.slice(0, i) + (kind === 'replace' ? c : '') + t.slice(i + 1);
  }
  return t;
}

const documents = fc
  .tuple(
    fc.uniqueArray(fc.tuple(key, node), { minLength: 1, maxLength: 5, selector: ([k]) => k }),
    layout,
    fc.boolean(),
  )
  .map(([entries, l, header]) => {
    const lines = block({ t: 'map', flow: false, entries }, 0, l);
    return `${header ? '# generated\n\n' : ''}${lines.join('\n')}\n`;
  });

describe('fast YAML reader', () => {
  it('reads what the yaml library reads, for every generated document it accepts', () => {
    let accepted = 0;
    let runs = 0;
    fc.assert(
      fc.property(documents, (text) => {
        runs++;
        if (assertAgrees(text)) accepted++;
      }),
      { numRuns: 2000 },
    );
    // Not a vacuous test: most documents of the intent files' shape take the fast path.
    assert.ok(accepted > runs / 3, `only ${accepted} of ${runs} generated documents took the fast path`);
  });

  it('gives up rather than disagree on documents with random edits', () => {
    fc.assert(
      fc.property(documents, fc.array(mutation, { minLength: 1, maxLength: 3 }), (text, edits) => {
        assertAgrees(mutate(text, edits));
      }),
      { numRuns: 3000 },
    );
  });

  it('takes every YAML file of the examples and valid fixtures, and agrees with the library', () => {
    // fixtures/_error_/ holds invalid sites on purpose: some of their files are outside the subset.
    const files = [join(ROOT, 'examples'), join(ROOT, 'fixtures')]
      .flatMap(yamlFiles)
      .filter((f) => !f.includes('/fixtures/_error_/'));
    assert.ok(files.length > 50, 'found the example and fixture files');
    for (const f of files) assert.ok(assertAgrees(readFileSync(f, 'utf8')), `fast path for ${f}`);
  });

  it('leaves YAML outside its subset to the library', () => {
    const outside = [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: |\n  text\n',
      'a: >\n  text\n',
      'a: one\n  two\n',
      'a: "one\n  two"\n',
      'a:\n',
      'a:\nb: 1\n',
      'a: 1\na: 2\n',
      'a: { b: 1, b: 2 }\n',
      'a:\tb\n',
      'a: 1\r\nb: 2\r\n',
      '---\na: 1\n',
      '"a": 1\n',
      'a b: 1\n',
      '? a\n: 1\n',
      '- a\n',
      'a: [1,\n  2]\n',
      'a: [1, 2,]\n',
      'a: "\\t"\n',
      '1: a\n',
      'a: b: c\n',
      'a: - b\n',
      'a:\n  - b\n   c: 1\n',
    ];
    for (const text of outside) assert.equal(parseFast(text), undefined, JSON.stringify(text));
  });

  it('reads an empty document as null with no positions', () => {
    assert.deepEqual(parseFast('# nothing here\n\n'), { data: null, positions: undefined });
  });

  it('reads collections nested up to its depth limit and gives up one deeper (the library reports it)', () => {
    // A block map, a flow list and a flow map `depth` collections deep (the root map is one).
    const texts = (depth: number) => [
      `${Array.from({ length: depth - 1 }, (_, i) => `${' '.repeat(i)}k:\n`).join('')}${' '.repeat(depth - 1)}x: 1\n`,
      `a: ${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}\n`,
      `a: ${'{b: '.repeat(depth - 1)}1${'}'.repeat(depth - 1)}\n`,
    ];
    for (const text of texts(8)) assert.ok(assertAgrees(text) && parseFast(text, 8) !== undefined, text);
    for (const text of texts(9)) assert.equal(parseFast(text, 8), undefined, text);
  });
});

describe('parseSource', () => {
  it('locates every key and value alike on the fast path and the library path', () => {
    const text = [
      '# a service',
      'fqdn: [www.example.org, example.org]',
      'backend:',
      '  group: web',
      '  servers:',
      '    - { name: a, address: 198.18.1.1 }',
      '  check: { path: /health }',
      'routes:',
      '- path_prefix: /api',
      '  backend: { group: api }',
      '',
    ].join('\n');
    const fast = parseSource('services/x.yaml', text).file;
    // An alias pushes the same document onto the library path; it changes no position before it.
    const slow = parseSource('services/x.yaml', `${text}z: &a 1\n`).file;
    assert.notDeepEqual(fast.positions, slow.positions, 'the second file took the library path');
    const paths: (string | number)[][] = [
      [],
      ['fqdn'],
      ['fqdn', 1],
      ['backend', 'servers', 0, 'address'],
      ['backend', 'check', 'path'],
      ['routes', 0, 'backend', 'group'],
      ['routes', 3],
      ['backend', 'nope'],
      ['fqdn', 'x'],
    ];
    for (const p of paths) {
      for (const part of ['key', 'value'] as const) {
        assert.deepEqual(locate(fast, p, part), locate(slow, p, part), `${p.join('.')} (${part})`);
      }
    }
    assert.deepEqual(locate(fast, ['backend', 'servers', 0, 'address'], 'value'), {
      file: 'services/x.yaml',
      line: 6,
      column: 27,
    });
  });
});

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return name === 'expected' ? [] : yamlFiles(p);
      return /\.ya?ml$/.test(name) ? [p] : [];
    });
}
