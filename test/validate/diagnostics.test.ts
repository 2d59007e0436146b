import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Code, Diagnostic } from '../../src/diagnostics/index.ts';
import { diag, formatDiagnostic, safeJson, visible } from '../../src/diagnostics/index.ts';
import { findMisindent } from '../../src/load/indentation.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { compileFiles, type FileOverrides, withFiles, yaml } from '../helpers/site.ts';

/** Diagnostics under hostile input: misindented lines, unknown keys beside other mistakes. */

interface Expected {
  code: Code;
  file: string;
  line: number;
  column: number;
  /** The indentation hint: `[indent, expected]`. */
  indent?: [number, number];
}

interface Case {
  name: string;
  files: FileOverrides;
  /** Every diagnostic the site must yield, in file/line/column order. */
  errors: Expected[];
}

const WWW = 'services/web/www.yaml';
const SITE = 'site.yaml';
const www = (...lines: string[]): FileOverrides => ({ [WWW]: yaml(...lines) });

const cases: Case[] = [
  // --- misindented lines: one diagnostic, at the line itself ---
  {
    name: 'a key one space too deep under backend',
    files: www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: app', '   port: 8080'),
    errors: [{ code: 'E_YAML_SYNTAX', file: WWW, line: 5, column: 4, indent: [3, 2] }],
  },
  {
    name: 'a key one space too shallow under backend',
    files: www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: app', ' port: 8080'),
    errors: [{ code: 'E_YAML_SYNTAX', file: WWW, line: 5, column: 2, indent: [1, 2] }],
  },
  {
    name: 'a top-level key indented, after a comment and a blank line',
    files: www(
      'fqdn: www.test.example',
      '# the address',
      '',
      ' vip: 198.18.100.10',
      'backend: { group: app }',
    ),
    errors: [{ code: 'E_YAML_SYNTAX', file: WWW, line: 4, column: 2, indent: [1, 0] }],
  },
  {
    name: 'a key too deep under a nested map (backend.check)',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      '  check:',
      '    path: /health',
      '      interval: 2s',
    ),
    errors: [{ code: 'E_YAML_SYNTAX', file: WWW, line: 7, column: 7, indent: [6, 4] }],
  },
  {
    name: 'a key of a list item too deep (site.yaml nodes)',
    files: {
      [SITE]: BASE_SITE[SITE]!.replace(
        '  - { name: lb2, address: 198.18.0.12 }',
        '  - name: lb2\n    address: 198.18.0.12\n     interface: eth0',
      ),
    },
    errors: [{ code: 'E_YAML_SYNTAX', file: SITE, line: 6, column: 6, indent: [5, 4] }],
  },
  {
    name: 'a misindented key in a defaults file',
    files: { 'services/web/defaults.yaml': yaml('backend:', '  port: 8080', '    balance: leastconn') },
    errors: [
      { code: 'E_YAML_SYNTAX', file: 'services/web/defaults.yaml', line: 3, column: 5, indent: [4, 2] },
    ],
  },
  {
    name: 'a misindented key after a block scalar; the other files are still checked',
    files: {
      ...www(
        'description: |',
        '  two lines',
        '    of text',
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  group: app',
        '   port: 8080',
      ),
      'services/db/pg.yaml': yaml('vip: 198.18.20.10', 'protocol: pgsql', 'backend:', '  group: nosuch'),
    },
    errors: [
      { code: 'E_UNKNOWN_GROUP', file: 'services/db/pg.yaml', line: 4, column: 10 },
      { code: 'E_YAML_SYNTAX', file: WWW, line: 8, column: 4, indent: [3, 2] },
    ],
  },

  // --- unknown keys do not hide the rest of the file ---
  {
    name: 'every unknown key, and the wrong types beside them',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'colour: blue',
      'ssl: maybe',
      'backend:',
      '  group: app',
      '  port: http',
      '  balanse: roundrobin',
      '  servers:',
      '    - { name: a, address: 198.18.10.20, wieght: 5 }',
    ),
    errors: [
      { code: 'E_UNKNOWN_KEY', file: WWW, line: 3, column: 1 },
      { code: 'E_TYPE', file: WWW, line: 4, column: 6 },
      { code: 'E_TYPE', file: WWW, line: 7, column: 9 },
      { code: 'E_UNKNOWN_KEY', file: WWW, line: 8, column: 3 },
      { code: 'E_UNKNOWN_KEY', file: WWW, line: 10, column: 41 },
    ],
  },
  {
    name: 'an unknown key, and the later checks of the same file still run',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'ports: [22]',
      'colour: blue',
      'backend:',
      '  group: nosuch',
    ),
    errors: [
      { code: 'E_PORT_NOT_ALLOWED', file: WWW, line: 3, column: 8 },
      { code: 'E_UNKNOWN_KEY', file: WWW, line: 4, column: 1 },
      { code: 'E_UNKNOWN_GROUP', file: WWW, line: 6, column: 10 },
    ],
  },
  {
    name: 'an unknown key in a defaults file does not hide the services below it',
    files: {
      'services/web/defaults.yaml': yaml('backend:', '  prot: 8080'),
      ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: nosuch'),
    },
    errors: [
      { code: 'E_UNKNOWN_KEY', file: 'services/web/defaults.yaml', line: 2, column: 3 },
      { code: 'E_UNKNOWN_GROUP', file: WWW, line: 4, column: 10 },
    ],
  },
  {
    name: 'an unknown key in site.yaml and in an inventory host do not hide the services',
    files: {
      [SITE]: `${BASE_SITE[SITE]!}colour: blue\n`,
      'inventory.yaml': BASE_SITE['inventory.yaml']!.replace(
        '{ address: 198.18.11.11 }',
        '{ address: 198.18.11.11, adress6: "2001:db8::1" }',
      ),
      ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: nosuch'),
    },
    errors: [
      { code: 'E_UNKNOWN_KEY', file: 'inventory.yaml', line: 6, column: 37 },
      { code: 'E_UNKNOWN_GROUP', file: WWW, line: 4, column: 10 },
      { code: 'E_UNKNOWN_KEY', file: SITE, line: 11, column: 1 },
    ],
  },
];

const key = (d: Pick<Diagnostic, 'code' | 'file' | 'line' | 'column'>): string =>
  `${d.code} ${d.file}:${d.line}:${d.column}`;

describe('diagnostics under hostile input', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await compileFiles(withFiles(BASE_SITE, c.files));
      const all = [...r.all].sort(
        (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column,
      );
      assert.deepEqual(all.map(key), c.errors.map(key));
      assert.equal(r.model, undefined);
      for (const e of c.errors) {
        if (!e.indent) continue;
        const d = all.find((x) => key(x) === key(e))!;
        const [n, m] = e.indent;
        assert.match(
          d.hint ?? '',
          new RegExp(`\\b${n} spaces?\\b.*\\b${m}\\b`),
          'the hint gives both indentations',
        );
      }
    });
  }
});

describe('findMisindent', () => {
  it('finds nothing in well-indented texts, also with lists, flow maps and block scalars', () => {
    for (const text of Object.values(BASE_SITE)) assert.equal(findMisindent(text), undefined, text);
    assert.equal(
      findMisindent(
        yaml('a: |', '  x', '     y', 'b:', '- 1', '- { c: 2 }', 'd:', '  - e: 1', '    f: [1,', '      2]'),
      ),
      undefined,
    );
  });
});

describe('visible', () => {
  const table: [string, string][] = [
    ['plain text, tabs\tstay', 'plain text, tabs\tstay'],
    ['esc \x1b[2J bel \x07 cr \r nul \0 del \x7f', 'esc \\x1b[2J bel \\x07 cr \\x0d nul \\x00 del \\x7f'],
    ['c1 \u0085 \u009b', 'c1 \\x85 \\x9b'],
    [
      'bidi \u202a\u202b\u202c\u202d\u202e \u2066\u2067\u2068\u2069',
      'bidi \\u202a\\u202b\\u202c\\u202d\\u202e \\u2066\\u2067\\u2068\\u2069',
    ],
    ['zero width \u200b\u200c\u200d\u2060\ufeff', 'zero width \\u200b\\u200c\\u200d\\u2060\\ufeff'],
    ['separators \u2028\u2029 lone \ud800', 'separators \\u2028\\u2029 lone \\ud800'],
    [
      'non-characters \ufdd0 \uffff \u{10ffff} tag \u{e0041}',
      'non-characters \\ufdd0 \\uffff \\u{10ffff} tag \\u{e0041}',
    ],
    ['letters stay: é ü 漢 🙂', 'letters stay: é ü 漢 🙂'],
  ];
  for (const [input, shown] of table) {
    it(JSON.stringify(input), () => assert.equal(visible(input), shown));
  }

  it('keeps line feeds only when asked', () => {
    assert.equal(visible('a\nb'), 'a\\x0ab');
    assert.equal(visible('a\nb\x1b', { multiline: true }), 'a\nb\\x1b');
  });

  it('safeJson gives the same value with no raw unsafe character', () => {
    const value = { s: 'a\x1b\u0085\u202e\u2028\ud800\u{10ffff}é\n', n: [1, 'x'] };
    const text = safeJson(value);
    assert.deepEqual(JSON.parse(text), value);
    assert.equal(visible(text, { multiline: true }), text);
  });
});

describe('formatDiagnostic with hostile text', () => {
  it('escapes the file name, message, hint, related line and source line; the caret stays under its character', () => {
    const file = 'services/web/a\x1b[2J.yaml';
    const text = 'x: "\x1b[31m\u202e"\ty: 1\n';
    const d = diag('E_UNKNOWN_KEY', {
      message: 'unknown key `y\x07`',
      at: { file, line: 1, column: 13 },
      hint: 'did you mean \u2066?',
      related: [{ file, line: 1, column: 1, message: 'here\r' }],
    });
    const out = formatDiagnostic(d, new Map([[file, text]]), false);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
    assert.doesNotMatch(out, /[\0-\x08\x0b-\x1f\x7f-\x9f\u2066\u202e]/u);
    const lines = out.split('\n');
    const source = lines.find((l) => l.startsWith('>'))!;
    const caret = lines[lines.indexOf(source) + 1]!;
    // The caret stands under `y` (column 13 of the raw line) in the escaped line.
    assert.equal(source[caret.indexOf('^')], 'y');
  });
});
