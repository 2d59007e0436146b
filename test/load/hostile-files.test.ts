import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../../src/compile.ts';
import type { Diagnostic } from '../../src/diagnostics/index.ts';
import { diskFs, LOAD_LIMITS, load, type SiteFs } from '../../src/load/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { type FileOverrides, NOW, withFiles, yaml } from '../helpers/site.ts';
import { cli } from '../lab/lab-client.ts';

/**
 * The loader against a hostile site on a real disk: links, FIFOs, huge and deep files, `.yml`
 * twins and names outside the grammar. Each case is checked in-process (code, file, line, column,
 * no model) and through `intentlb check --format json` (exit 1, the same diagnostics); the cases
 * that used to hang or exhaust memory also run in a child process with a time and memory limit.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'intentlb-hostile-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
/** A file outside every site, which no diagnostic may show. */
const SECRET = join(scratch, 'secret.txt');
writeFileSync(SECRET, 'root:SECRET-LINE:0:0\n');
let sites = 0;

/** BASE_SITE with changes written to a fresh folder; `odd` then adds links, FIFOs and the like. */
function siteDir(over: FileOverrides = {}, odd: (dir: string) => void = () => {}): string {
  const dir = join(scratch, `site${++sites}`);
  for (const [path, text] of Object.entries(withFiles(BASE_SITE, over))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  odd(dir);
  return dir;
}

interface Expected {
  code: string;
  file: string;
  line: number;
  column: number;
}

interface Case {
  name: string;
  files?: FileOverrides;
  odd?: (dir: string) => void;
  errors: Expected[];
  /** Run it in a child process too, with a time and memory limit (it used to hang or blow up). */
  child?: boolean;
}

const WWW = 'services/web/www.yaml';
const WWW_TEXT = BASE_SITE[WWW]!;
const site = BASE_SITE['site.yaml']!;
/** A block map `depth` deep below `k` in a service (the root map is one more). */
const nested = (first: string, depth: number): string =>
  yaml(first, ...Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k:`), `${' '.repeat(depth)}v: 1`);
const fifo = (path: string) => execFileSync('mkfifo', [path]);

const cases: Case[] = [
  {
    name: 'a link to a file outside the site: E_FILE, and its text is never shown',
    odd: (d) => symlinkSync(SECRET, join(d, 'services/web/leak.yaml')),
    errors: [{ code: 'E_FILE', file: 'services/web/leak.yaml', line: 1, column: 1 }],
  },
  {
    name: 'a link to /dev/zero is not read',
    odd: (d) => symlinkSync('/dev/zero', join(d, 'services/web/zero.yaml')),
    errors: [{ code: 'E_FILE', file: 'services/web/zero.yaml', line: 1, column: 1 }],
    child: true,
  },
  {
    name: 'two links to `.` are not walked (no loop)',
    odd: (d) => {
      symlinkSync('.', join(d, 'services/web/a'));
      symlinkSync('.', join(d, 'services/web/b'));
    },
    errors: [
      { code: 'E_FILE', file: 'services/web/a', line: 1, column: 1 },
      { code: 'E_FILE', file: 'services/web/b', line: 1, column: 1 },
    ],
    child: true,
  },
  {
    name: 'a FIFO is never opened',
    odd: (d) => fifo(join(d, 'services/web/pipe.yaml')),
    errors: [{ code: 'E_FILE', file: 'services/web/pipe.yaml', line: 1, column: 1 }],
    child: true,
  },
  {
    name: 'site.yaml as a link and inventory.yaml as a FIFO (not "missing")',
    files: { 'site.yaml': null, 'inventory.yaml': null },
    odd: (d) => {
      writeFileSync(join(scratch, `site-of-${sites}.yaml`), site);
      symlinkSync(join(scratch, `site-of-${sites}.yaml`), join(d, 'site.yaml'));
      fifo(join(d, 'inventory.yaml'));
    },
    errors: [
      { code: 'E_FILE', file: 'inventory.yaml', line: 1, column: 1 },
      { code: 'E_FILE', file: 'site.yaml', line: 1, column: 1 },
    ],
    child: true,
  },
  {
    name: 'the certificate folder: a FIFO and a link among the bundles',
    odd: (d) => {
      mkdirSync(join(d, 'certs'));
      fifo(join(d, 'certs/www.test.example.pem'));
      symlinkSync(SECRET, join(d, 'certs/other.pem'));
    },
    errors: [
      { code: 'E_FILE', file: 'certs/other.pem', line: 1, column: 1 },
      { code: 'E_FILE', file: 'certs/www.test.example.pem', line: 1, column: 1 },
    ],
    child: true,
  },
  {
    name: 'tls.certs naming a link to a folder outside the site',
    odd: (d) => {
      mkdirSync(join(scratch, `certs-of-${sites}`));
      symlinkSync(join(scratch, `certs-of-${sites}`), join(d, 'certs'));
    },
    errors: [{ code: 'E_FILE', file: 'certs', line: 1, column: 1 }],
  },
  {
    name: 'a file over 1 MiB is E_LIMIT and not read',
    files: { 'services/web/big.yaml': `# ${'x'.repeat(78)}\n`.repeat((44 << 20) / 80) },
    errors: [{ code: 'E_LIMIT', file: 'services/web/big.yaml', line: 1, column: 1 }],
    child: true,
  },
  {
    name: 'maps 65 deep (fast reader subset): E_LIMIT at the first one too deep',
    files: { [WWW]: nested('fqdn: www.test.example', 64) },
    errors: [{ code: 'E_LIMIT', file: WWW, line: 66, column: 65 }],
  },
  {
    name: 'maps 65 deep with an anchor (library path): the same position',
    files: { [WWW]: nested('fqdn: &a www.test.example', 64) },
    errors: [{ code: 'E_LIMIT', file: WWW, line: 66, column: 65 }],
  },
  {
    name: 'a flow list 5,000 deep: E_LIMIT, not a stack overflow (exit 70)',
    files: { [WWW]: yaml('fqdn: www.test.example', `k: ${'['.repeat(5000)}${']'.repeat(5000)}`) },
    errors: [{ code: 'E_LIMIT', file: WWW, line: 2, column: 67 }],
    child: true,
  },
  {
    name: 'a flow map 5,000 deep behind a tag (library path)',
    files: { [WWW]: yaml('fqdn: !!str www.test.example', `k: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}`) },
    errors: [{ code: 'E_LIMIT', file: WWW, line: 2, column: 4 + 63 * 4 }],
  },
  {
    name: '.yml beside .yaml: services, defaults, inventory and dns',
    files: {
      'services/web/www.yml': yaml('fqdn: www.test.example', 'vip: 198.18.100.99'),
      'services/defaults.yml': yaml('backend: { balance: source }'),
      'inventory.yml': yaml('groups: {}'),
      'dns.yml': yaml('www.test.example: 198.18.100.99'),
    },
    errors: [
      { code: 'E_DUPLICATE_FILE', file: 'dns.yml', line: 1, column: 1 },
      { code: 'E_DUPLICATE_FILE', file: 'inventory.yml', line: 1, column: 1 },
      { code: 'E_DUPLICATE_FILE', file: 'services/defaults.yml', line: 1, column: 1 },
      { code: 'E_DUPLICATE_FILE', file: 'services/web/www.yml', line: 1, column: 1 },
    ],
  },
  {
    name: 'file and folder names: upper case, a newline, a space, too long an id',
    files: {
      'services/web/Www2.yaml': WWW_TEXT,
      'services/web/a\nb.yaml': WWW_TEXT,
      'services/Web Team/x.yaml': WWW_TEXT,
      [`services/web/${'x'.repeat(56)}.yaml`]: WWW_TEXT,
      [`services/${'d'.repeat(58)}/x.yaml`]: WWW_TEXT,
    },
    errors: [
      { code: 'E_NAME', file: 'services/Web Team', line: 1, column: 1 },
      { code: 'E_NAME', file: `services/${'d'.repeat(58)}`, line: 1, column: 1 },
      { code: 'E_NAME', file: 'services/web/Www2.yaml', line: 1, column: 1 },
      { code: 'E_NAME', file: 'services/web/a\nb.yaml', line: 1, column: 1 },
      { code: 'E_NAME', file: `services/web/${'x'.repeat(56)}.yaml`, line: 1, column: 1 },
    ],
  },
  {
    name: 'inventory host and group names (our format)',
    files: {
      'inventory.yaml': yaml(
        'groups:',
        '  app:',
        '    hosts: { App1: 198.18.10.11, app2: 198.18.10.12 }',
        '  Db: {}',
      ),
    },
    errors: [
      { code: 'E_NAME', file: 'inventory.yaml', line: 3, column: 14 },
      { code: 'E_NAME', file: 'inventory.yaml', line: 4, column: 3 },
    ],
  },
  {
    name: 'Ansible host names: a newline (it reached HAProxy server lines) and upper case',
    files: {
      'inventory.yaml': yaml(
        'all:',
        '  children:',
        '    app:',
        '      hosts:',
        '        "app1\\nserver evil 198.18.0.66:80": { ansible_host: 198.18.10.11 }',
        '        App2: { ansible_host: 198.18.10.12 }',
        '    db:',
        '      hosts:',
        '        db1: { ansible_host: 198.18.11.11 }',
      ),
    },
    errors: [
      { code: 'E_INJECTION', file: 'inventory.yaml', line: 5, column: 9 },
      { code: 'E_NAME', file: 'inventory.yaml', line: 6, column: 9 },
    ],
  },
  {
    name: 'node, peer, team and server names',
    files: {
      'site.yaml': site
        .replace('{ name: lb2,', '{ name: Lb2,')
        .replace('name: rr1,', `name: ${'r'.repeat(32)},`)
        .replace('  web: { path: web', '  web_: { path: web'),
      [WWW]: yaml(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  servers:',
        '    - { name: app1, address: 198.18.10.11 }',
        '    - { name: .app2, address: 198.18.10.12 }',
      ),
    },
    errors: [
      { code: 'E_NAME', file: 'services/web/www.yaml', line: 6, column: 15 },
      { code: 'E_NAME', file: 'site.yaml', line: 4, column: 13 },
      { code: 'E_NAME', file: 'site.yaml', line: 7, column: 43 },
      { code: 'E_NAME', file: 'site.yaml', line: 10, column: 3 },
    ],
  },
];

const where = (d: Pick<Diagnostic, 'code' | 'file' | 'line' | 'column'>): Expected => ({
  code: d.code,
  file: d.file,
  line: d.line,
  column: d.column,
});
const order = (a: Expected, b: Expected): number =>
  a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code);

const dirs = new Map<Case, string>();
const dirOf = (c: Case): string => {
  let d = dirs.get(c);
  if (d === undefined) {
    d = siteDir(c.files, c.odd);
    dirs.set(c, d);
  }
  return d;
};

describe('load: hostile files on disk', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const l = load(diskFs(dirOf(c)));
      const r = await compile(l.value, { now: NOW });
      const errors = [...l.diagnostics, ...r.diagnostics].filter((d) => d.severity === 'error');
      assert.deepEqual(errors.map(where).sort(order), [...c.errors].sort(order));
      assert.equal(r.model, undefined, 'no model while a file is refused');
      for (const text of l.value.sources.values()) assert.doesNotMatch(text, /SECRET-LINE/);
    });
  }

  it('a .yml twin names the .yaml file it shadows as related', () => {
    const c = cases.find((x) => x.name.startsWith('.yml beside'))!;
    const l = load(diskFs(dirOf(c)));
    const d = l.diagnostics.find((x) => x.file === 'services/web/www.yml')!;
    assert.deepEqual(
      d.related?.map((x) => x.file),
      [WWW],
    );
  });

  it('more files and folders than the limit: E_LIMIT at the folder, and nothing more is read', () => {
    const dir = siteDir(
      Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`services/many/s${i}.yaml`, WWW_TEXT])),
    );
    const l = load(diskFs(dir), { ...LOAD_LIMITS, entries: 10 });
    assert.deepEqual(l.diagnostics.map(where), [
      { code: 'E_LIMIT', file: 'services/many', line: 1, column: 1 },
    ]);
    assert.ok(l.value.refused.includes('services/many'));
  });

  it('more bytes than the limit: E_LIMIT at the file that crosses it', () => {
    const dir = siteDir();
    const total =
      Buffer.byteLength(BASE_SITE['site.yaml']!) +
      Buffer.byteLength(BASE_SITE['inventory.yaml']!) +
      Buffer.byteLength(BASE_SITE['dns.yaml']!);
    const l = load(diskFs(dir), { ...LOAD_LIMITS, totalBytes: total + 1 });
    // After site.yaml, inventory.yaml and dns.yaml, services/ is read in name order: db/pg.yaml first.
    assert.deepEqual(l.diagnostics.map(where), [
      { code: 'E_LIMIT', file: 'services/db/pg.yaml', line: 1, column: 1 },
    ]);
  });

  it('a folder that cannot be listed is E_FILE, not a silent hole in the site', () => {
    // The tests run as root, where no mode makes a folder unreadable: the file system says EACCES.
    const disk = diskFs(siteDir());
    const fs: SiteFs = {
      ...disk,
      list: (path, max) =>
        path === 'services/web' ? { refused: { why: 'unreadable', detail: 'EACCES' } } : disk.list(path, max),
    };
    const l = load(fs);
    assert.deepEqual(l.diagnostics.map(where), [
      { code: 'E_FILE', file: 'services/web', line: 1, column: 1 },
    ]);
    assert.deepEqual(l.value.refused, ['services/web']);
  });

  it('the example site and every fixture still load without a diagnostic', () => {
    for (const dir of ['examples/campus', ...fixtureSites()]) {
      const l = load(diskFs(join(ROOT, dir)));
      assert.deepEqual(l.diagnostics, [], dir);
      assert.deepEqual(l.value.refused, [], dir);
    }
  });
});

describe('intentlb check on hostile files', () => {
  for (const c of cases) {
    it(`exits 1 with the same diagnostics: ${c.name}`, async () => {
      const r = await cli(['check', dirOf(c), '--format', 'json']);
      assert.equal(r.code, 1, r.stderr);
      const ds = (JSON.parse(r.stdout) as { diagnostics: Diagnostic[] }).diagnostics;
      assert.deepEqual(
        ds
          .filter((d) => d.severity === 'error')
          .map(where)
          .sort(order),
        [...c.errors].sort(order),
      );
    });
  }

  it('prints no line of a linked file outside the site', async () => {
    const r = await cli(['check', dirOf(cases[0]!)]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /SECRET-LINE/);
  });

  it('a site with every case that hung or ran out of memory: exit 1 in a child process (60 s, 300 MB)', async () => {
    const todo = cases.filter((c) => c.child);
    assert.ok(todo.length >= 5);
    const dir = siteDir(Object.assign({}, ...todo.map((c) => c.files ?? {})), (d) => {
      for (const c of todo) c.odd?.(d);
    });
    const argv = [
      '--max-old-space-size=300',
      join(ROOT, 'bin/intentlb.mjs'),
      'check',
      dir,
      '--format',
      'json',
    ];
    const r = await new Promise<{ code: number | null; signal: string | null; stdout: string }>((resolve) => {
      execFile(process.execPath, argv, { timeout: 60_000, killSignal: 'SIGKILL' }, (e, stdout) => {
        const x = e as { code?: number; signal?: string | null } | null;
        resolve({ code: x ? (x.code ?? null) : 0, signal: x?.signal ?? null, stdout });
      });
    });
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 1, signal: null });
    const codes = (JSON.parse(r.stdout) as { diagnostics: Diagnostic[] }).diagnostics.map((d) => d.code);
    assert.deepEqual([...new Set(codes)].sort(), ['E_FILE', 'E_LIMIT']);
  });
});

function fixtureSites(): string[] {
  return execFileSync(
    'find',
    ['fixtures', '-mindepth', '2', '-maxdepth', '2', '-name', 'site', '-type', 'd'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
    .split('\n')
    .filter(Boolean)
    .sort();
}
