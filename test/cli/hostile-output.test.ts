import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cli } from '../helpers/cli.ts';
import { yaml } from '../helpers/site.ts';

/** The CLI's output when the site's files are written by someone hostile (issue #13). */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CAMPUS = join(ROOT, 'examples/campus');
const INTRANET = 'services/web/intranet.yaml';

const scratch = mkdtempSync(join(tmpdir(), 'intentlb-hostile-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let sites = 0;

/** A copy of examples/campus with some files replaced or added. */
function campusWith(files: Record<string, string>): string {
  const dir = join(scratch, `campus${++sites}`);
  cpSync(CAMPUS, dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  return dir;
}

interface JsonDiagnostic {
  code: string;
  file: string;
  line: number;
  column: number;
  message: string;
  hint?: string;
  path?: string;
  related?: { file: string; line: number; column: number; message: string }[];
}

async function checkJson(dir: string): Promise<{ code: number; diagnostics: JsonDiagnostic[] }> {
  const r = await cli(['check', dir, '--format', 'json']);
  return {
    code: r.code,
    diagnostics: (JSON.parse(r.stdout) as { diagnostics: JsonDiagnostic[] }).diagnostics,
  };
}

const where = (d: JsonDiagnostic): string => `${d.code} ${d.file}:${d.line}:${d.column}`;

describe('check: a misindented line', () => {
  const dir = campusWith({
    [INTRANET]: yaml(
      'description: Intranet',
      'fqdn: intranet.campus.example',
      'vip: 198.18.100.13',
      'backend:',
      '  group: intranet',
      '   port: 8081',
    ),
  });

  it('is one diagnostic at the misindented line, with both indentations in the hint', async () => {
    const r = await checkJson(dir);
    assert.equal(r.code, 1);
    assert.deepEqual(r.diagnostics.map(where), [`E_YAML_SYNTAX ${INTRANET}:6:4`]);
    assert.match(r.diagnostics[0]!.hint ?? '', /\b3 spaces\b.*\b2\b/);
  });

  it('is shown once in human output, with the code frame at that line', async () => {
    const r = await cli(['check', dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.match(/E_YAML_SYNTAX/g)?.length, 1);
    assert.match(r.stderr, /^> 6 \| {4}port: 8081$/m);
  });
});

describe('check --format json: path and related', () => {
  it('gives the intent path and the related places of a diagnostic', async () => {
    const dir = campusWith({
      'services/web/clash.yaml': yaml(
        'fqdn: intranet.campus.example',
        'vip: 198.18.100.13',
        'backend:',
        '  group: intranet',
        '  port: 8081',
      ),
    });
    const r = await checkJson(dir);
    assert.equal(r.code, 1);
    const withRelated = r.diagnostics.filter((d) => d.related !== undefined);
    assert.ok(withRelated.length > 0, 'a conflict names the other service');
    for (const d of withRelated) {
      for (const rel of d.related!) {
        assert.deepEqual(Object.keys(rel), ['file', 'line', 'column', 'message']);
        assert.ok(rel.line >= 1 && rel.column >= 1);
      }
    }
    const conflict = r.diagnostics.find((d) => d.code === 'E_VIP_CONFLICT');
    assert.equal(conflict?.path, 'vip');
    assert.deepEqual(
      conflict?.related?.map((x) => `${x.file}:${x.line}:${x.column}`),
      ['services/web/clash.yaml:2:6'],
    );
    for (const d of r.diagnostics) if (d.path !== undefined) assert.equal(typeof d.path, 'string');
  });

  it('gives the dotted path of an unknown key in a list item', async () => {
    const dir = campusWith({
      [INTRANET]: yaml(
        'fqdn: intranet.campus.example',
        'vip: 198.18.100.13',
        'backend:',
        '  servers:',
        '    - { name: a, address: 198.18.10.20, prot: 80 }',
        '    - { name: b, address: 198.18.10.21 }',
      ),
    });
    const r = await checkJson(dir);
    const d = r.diagnostics.find((x) => x.code === 'E_UNKNOWN_KEY');
    assert.equal(d?.path, 'backend.servers.0.prot');
    assert.equal(`${d?.line}:${d?.column}`, '5:41');
  });
});

describe('check: an unknown key does not hide the rest of the file', () => {
  it('reports every unknown key, the wrong types, and the later checks of the same file', async () => {
    const dir = campusWith({
      [INTRANET]: yaml(
        'fqdn: intranet.campus.example',
        'vip: 198.18.100.13',
        'colour: blue',
        'maxconn: lots',
        'ports: [22]',
        'backend:',
        '  group: nosuch',
        '  balanse: roundrobin',
      ),
    });
    let r = await checkJson(dir);
    assert.deepEqual(r.diagnostics.map(where), [
      `E_UNKNOWN_KEY ${INTRANET}:3:1`,
      `E_TYPE ${INTRANET}:4:10`,
      `E_UNKNOWN_KEY ${INTRANET}:8:3`,
    ]);
    // With the wrong type fixed, the unknown keys stay and the service is checked further.
    writeFileSync(
      join(dir, INTRANET),
      yaml(
        'fqdn: intranet.campus.example',
        'vip: 198.18.100.13',
        'colour: blue',
        'maxconn: 100',
        'ports: [22]',
        'backend:',
        '  group: nosuch',
        '  balanse: roundrobin',
      ),
    );
    r = await checkJson(dir);
    assert.deepEqual(r.diagnostics.map(where), [
      `E_UNKNOWN_KEY ${INTRANET}:3:1`,
      `E_PORT_NOT_ALLOWED ${INTRANET}:5:8`,
      `E_UNKNOWN_GROUP ${INTRANET}:7:10`,
      `E_UNKNOWN_KEY ${INTRANET}:8:3`,
    ]);
  });
});

/** Any character a terminal could act on, but line feeds and tabs. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const RAW = /[\0-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2069\ufeff]/u;

describe('human output shows control and bidi characters escaped', () => {
  const ESC = '\x1b';
  const hostile = `a${ESC}[2J${ESC}]0;owned\x07\r\u0085\u202e\u2066\u200b\ufeffz`;
  /** `s` as the inside of a YAML double-quoted string: C0 and C1 controls as `\xNN` escapes. */
  const quoted = (s: string): string =>
    [...s]
      .map((c) => {
        const n = c.codePointAt(0)!;
        return n < 0x20 || (n >= 0x7f && n < 0xa0) ? `\\x${n.toString(16).padStart(2, '0')}` : c;
      })
      .join('');
  const without = (s: string, chars: string): string => [...s].filter((c) => !chars.includes(c)).join('');
  const dir = campusWith({
    [INTRANET]: yaml(
      `description: "${quoted(hostile)}"`,
      'fqdn: intranet.campus.example',
      'vip: 198.18.100.13',
      'backend:',
      '  group: intranet',
      '  port: 8081',
      `  ${without(hostile, '\r\ufeff')}: 1`,
      `  check: { path: "/${without(hostile, `${ESC}\x07\r\u0085`)}" }`,
    ),
    [`services/web/evil${ESC}[31m\u202e.yaml`]: yaml(
      'vip: 198.18.100.99',
      'backend: { group: intranet, prot: 1 }',
    ),
  });

  for (const argv of [
    ['check', dir],
    ['check', dir, '--format', 'json'],
    ['explain', dir, 'web/intranet'],
    ['explain', dir, 'web/intranet', '--format', 'json'],
    ['explain', dir, `web/evil${ESC}[31m\u202e`],
    ['explain', dir, `web/no${ESC}such`],
  ]) {
    it(`intentlb ${argv.join(' ')}`, async () => {
      const r = await cli(argv);
      assert.ok(r.stdout.length + r.stderr.length > 0);
      assert.doesNotMatch(r.stdout, RAW, 'stdout');
      assert.doesNotMatch(r.stderr, RAW, 'stderr');
    });
  }

  it('the escapes are visible where the characters were', async () => {
    const r = await cli(['check', dir]);
    assert.match(r.stderr, /\\x1b\[2J/);
    assert.match(r.stderr, /\\u202e/);
    assert.match(r.stderr, /evil\\x1b\[31m\\u202e\.yaml:\d+:\d+ error/);
    const json = await checkJson(dir);
    // JSON carries the real characters (escaped by JSON itself).
    assert.ok(json.diagnostics.some((d) => d.file === `services/web/evil${ESC}[31m\u202e.yaml`));
  });
});

describe('plan refuses terminal escapes in team text, and shows them only escaped', () => {
  it('a description with ESC and a bidi override is E_INJECTION, reported with escapes', async () => {
    const dir = campusWith({
      [INTRANET]: yaml(
        'description: "Intranet \\x1b[2J\\x1b]0;owned\\x07 \\u202e evil"',
        'fqdn: intranet.campus.example',
        'vip: 198.18.100.13',
        'backend:',
        '  group: intranet',
        '  port: 8081',
      ),
    });
    const root = join(scratch, `root${++sites}`);
    const r = await cli(['plan', dir, '--node', 'lb1', '--root', root]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /E_INJECTION/);
    assert.match(r.stderr, /Intranet \\x1b\[2J/, 'the code frame shows the escapes');
    assert.doesNotMatch(r.stdout, RAW, 'stdout');
    assert.doesNotMatch(r.stderr, RAW, 'stderr');
  });
});

/** Runs bin/intentlb.mjs with its stdout on a pipe whose reader is gone before anything is written. */
function runClosedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/intentlb.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, INTENTLB_LAUNCH: 'tsx', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reading end closes at once: every write of the child's meets EPIPE, as under `| head`.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('stdout closed early (| head) is a normal end', () => {
  for (const args of [
    ['explain', 'examples/campus', 'web/wiki'],
    ['schema'],
    ['check', 'examples/campus'],
    ['check', 'examples/campus', '--format', 'json'],
    ['--help'],
  ]) {
    it(`intentlb ${args.join(' ')}`, async () => {
      const r = await runClosedPipe(args);
      assert.equal(r.stderr, '', 'nothing on stderr: no EPIPE, no stack trace');
      assert.equal(r.code, 0);
    });
  }
});
