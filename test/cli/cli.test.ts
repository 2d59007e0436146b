import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { renderSite } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import { openStore, switchTo, writeGeneration } from '../../src/deploy/store.ts';
import type { DnsResolver } from '../../src/infer/dns.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { serviceSchema } from '../../src/vocabulary/schemas.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { certBundle } from '../helpers/certs.ts';
import { cli } from '../helpers/cli.ts';
import { type FileOverrides, withFiles, yaml } from '../helpers/site.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CAMPUS = join(ROOT, 'examples/campus');

const scratch = mkdtempSync(join(tmpdir(), 'intentlb-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let sites = 0;

/** Writes BASE_SITE with changes to a fresh folder and returns its path. */
function siteDir(over: FileOverrides = {}): string {
  const dir = join(scratch, `site${++sites}`);
  for (const [path, text] of Object.entries(withFiles(BASE_SITE, over))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const TYPO = {
  'services/web/www.yaml': yaml(
    'fqdn: www.test.example',
    'vip: 198.18.100.10',
    'ssl_redirct: true',
    'backend:',
    '  group: app',
  ),
};

/** No JavaScript stack trace: no `    at fn (file:line)` lines, no `Error:` dumps. */
function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+[:(]/m, 'a stack trace was printed');
  assert.doesNotMatch(text, /node:internal|\.ts:\d+:\d+\)/);
}

describe('intentlb check', () => {
  it('exits 0 on a clean site and says so', async () => {
    const r = await cli(['check', CAMPUS]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^campus: \d+ services, \d+ HAProxy instances?, ok$/m);
  });

  it('exits 0 with warnings, and prints them', async () => {
    const dir = siteDir({
      'services/web/one.yaml': yaml(
        'vip: 198.18.100.11',
        'backend:',
        '  servers:',
        '    - { name: a, address: 198.18.10.20 }',
      ),
    });
    const r = await cli(['check', dir]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /^services\/web\/one\.yaml:4:5 warning W_SINGLE_SERVER /m);
    assert.match(r.stderr, /0 errors, 1 warning/);
    assert.match(r.stdout, /ok$/m);
  });

  it('exits 1 on errors, with a code frame, a caret under the column and the hint', async () => {
    const r = await cli(['check', siteDir(TYPO)]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n');
    const head = lines.findIndex((l) => l.startsWith('services/web/www.yaml:3:1 error E_UNKNOWN_KEY '));
    assert.ok(head >= 0, r.stderr);
    const marked = lines.findIndex((l, i) => i > head && /^> 3 \| /.test(l));
    assert.ok(marked > head, 'the offending line is marked');
    assert.equal(lines[marked - 1], '  2 | vip: 198.18.100.10', 'one line of context before');
    const caret = lines[marked + 1]!;
    assert.match(caret, /^\s+\| \s*\^$/);
    // The caret stands under column 1 of the source text: the `s` of `ssl_redirct`.
    const textStart = lines[marked]!.indexOf('| ') + 2;
    assert.equal(caret.indexOf('^'), textStart);
    assert.equal(lines[marked]![caret.indexOf('^')], 's');
    assert.ok(
      lines.some((l) => l.trim() === 'hint: did you mean `ssl_redirect`?'),
      r.stderr,
    );
    assert.match(r.stderr, /1 error, 0 warnings/);
    assertNoStack(r.stderr);
  });

  it('puts the caret under a column further right', async () => {
    const r = await cli([
      'check',
      siteDir({
        'services/web/www.yaml': yaml(
          'fqdn: www.test.example',
          'vip: 198.18.100.10',
          'backend:',
          '  group: ap',
        ),
      }),
    ]);
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n');
    const marked = lines.findIndex((l) => /^> 4 \| /.test(l));
    const col = lines[marked + 1]!.indexOf('^');
    assert.equal(lines[marked]!.slice(col), 'ap');
  });

  it('--format json prints exactly the pinned shape, site-relative and 1-based', async () => {
    const dir = siteDir({
      ...TYPO,
      'services/web/one.yaml': yaml(
        'vip: 198.18.100.11',
        'backend:',
        '  servers:',
        '    - { name: a, address: 198.18.10.20 }',
      ),
    });
    const r = await cli(['check', dir, '--format', 'json']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, '');
    const out = JSON.parse(r.stdout) as { diagnostics: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(out), ['diagnostics']);
    assert.equal(out.diagnostics.length, 2);
    for (const d of out.diagnostics) {
      // The pinned keys in this order, then only `hint`, `path` and `related` when a diagnostic has them.
      const pinned = ['code', 'severity', 'file', 'line', 'column', 'message'];
      const extra = ['hint', 'path', 'related'].filter((k) => k in d);
      assert.deepEqual(Object.keys(d), [...pinned, ...extra]);
      assert.ok(
        Number.isInteger(d.line) &&
          Number(d.line) >= 1 &&
          Number.isInteger(d.column) &&
          Number(d.column) >= 1,
      );
      assert.equal(typeof d.message, 'string');
      if ('hint' in d) assert.equal(typeof d.hint, 'string');
      assert.ok(!String(d.file).startsWith('/') && !String(d.file).includes(dir), 'file is site-relative');
    }
    // Sorted by file, line and column.
    assert.deepEqual(
      { ...out.diagnostics[1], message: '' },
      {
        code: 'E_UNKNOWN_KEY',
        severity: 'error',
        file: 'services/web/www.yaml',
        line: 3,
        column: 1,
        message: '',
        hint: 'did you mean `ssl_redirect`?',
        path: 'ssl_redirct',
      },
    );
    assert.deepEqual(
      { ...out.diagnostics[0], message: '' },
      {
        code: 'W_SINGLE_SERVER',
        severity: 'warning',
        file: 'services/web/one.yaml',
        line: 4,
        column: 5,
        message: '',
        path: 'backend',
      },
    );
  });

  it('--format json on a clean site is an empty list and exit 0', async () => {
    const r = await cli(['check', CAMPUS, '--format', 'json']);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { diagnostics: [] });
  });

  it('a YAML error and a schema error in two files are both reported', async () => {
    const dir = siteDir({
      'services/web/www.yaml': yaml('fqdn: [www.test.example', 'vip: 198.18.100.10'),
      'services/db/pg.yaml': yaml('vip: 198.18.20.10', 'protocl: pgsql', 'backend:', '  group: db'),
    });
    const r = await cli(['check', dir, '--format', 'json']);
    assert.equal(r.code, 1);
    const codes = (JSON.parse(r.stdout) as { diagnostics: { code: string; file: string }[] }).diagnostics.map(
      (d) => `${d.code} ${d.file}`,
    );
    assert.deepEqual(
      codes,
      ['E_UNKNOWN_KEY services/db/pg.yaml', 'E_YAML_SYNTAX services/web/www.yaml'],
      'sorted by file',
    );
  });

  it('a site folder without site.yaml is E_MISSING_FILE (exit 1), not a crash', async () => {
    const r = await cli(['check', siteDir({ 'site.yaml': null })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^site\.yaml:1:1 error E_MISSING_FILE /m);
    assertNoStack(r.stderr);
  });
});

describe('usage errors exit 2 without a stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /Usage: intentlb/],
    ['a missing argument', ['check'], /missing required argument 'site'/],
    ['a missing second argument', ['explain', CAMPUS], /missing required argument 'service'/],
    ['an unknown command', ['frob'], /unknown command 'frob'/],
    ['an unknown option', ['check', CAMPUS, '--bogus'], /unknown option '--bogus'/],
    ['an unknown format', ['check', CAMPUS, '--format', 'yaml'], /yaml/],
    ['too many arguments', ['check', CAMPUS, 'extra'], /too many arguments/],
    ['a non-existent site folder', ['check', 'no/such/site'], /no\/such\/site: no such site folder/],
    ['a file instead of a site folder', ['check', join(CAMPUS, 'site.yaml')], /no such site folder/],
    ['an unknown service', ['explain', CAMPUS, 'web/nope'], /no service web\/nope/],
    ['an unknown schema kind', ['schema', 'bogus'], /bogus/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, async () => {
      const r = await cli(argv);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assertNoStack(r.stderr);
    });
  }

  it('help and version are not errors', async () => {
    for (const argv of [['--help'], ['help'], ['--version'], ['check', '--help']]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, argv.join(' '));
    }
  });

  it('an internal failure is exit 70 with one line, no stack trace', async () => {
    const broken: DnsResolver = {
      resolve: () => Promise.reject(new Error('resolver exploded')),
    };
    const r = await cli(['check', CAMPUS], { resolver: broken });
    assert.equal(r.code, 70);
    assert.equal(r.stderr, 'intentlb: internal error: resolver exploded\n');
  });
});

describe('intentlb explain', () => {
  it('lists each field with its file:line:col or the rule that inferred it', async () => {
    const r = await cli(['explain', CAMPUS, 'web/typo3/www']);
    assert.equal(r.code, 0, r.stderr);
    const rows = new Map(
      r.stdout
        .split('\n')
        .slice(1)
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [field, ...rest] = l.trim().split(/\s{2,}/);
          return [field!, rest.join('  ')] as const;
        }),
    );
    assert.match(r.stdout.split('\n')[0]!, /^web\/typo3\/www {2}services\/web\/typo3\/www\.yaml$/);
    assert.match(rows.get('vip')!, /^198\.18\.100\.10 +services\/web\/typo3\/www\.yaml:3:6$/);
    assert.match(rows.get('ssl')!, /services\/web\/defaults\.yaml:4:6$/);
    assert.match(rows.get('backend.check.interval')!, /services\/defaults\.yaml:3:22$/);
    assert.match(rows.get('backend.cookie')!, /^TYPO3LB +services\/web\/typo3\/defaults\.yaml:5:11$/);
    assert.match(rows.get('mode')!, /^http +inferred \(mode-from-protocol\): /);
    assert.match(rows.get('ports')!, /inferred \(ports-from-protocol\): /);
    assert.match(rows.get('backend.servers')!, /inferred \(servers-from-group\): .*typo3-prod/);
  });

  it('accepts the service file path too', async () => {
    const r = await cli(['explain', CAMPUS, 'services/web/typo3/www.yaml']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^web\/typo3\/www /);
  });

  it('--format json gives fields with structured sources', async () => {
    const r = await cli(['explain', CAMPUS, 'it/ldap', '--format', 'json']);
    assert.equal(r.code, 0);
    const out = JSON.parse(r.stdout) as {
      service: string;
      fields: { field: string; value: string; source?: { kind: string; rule?: string; line?: number } }[];
    };
    assert.equal(out.service, 'it/ldap');
    const f = (name: string) => out.fields.find((x) => x.field === name);
    assert.deepEqual(f('protocol')?.source, {
      kind: 'file',
      file: 'services/it/ldap.yaml',
      line: 4,
      column: 11,
    });
    assert.equal(f('client_address')?.source?.rule, 'client-address');
    assert.equal(f('backend.check.type')?.value, 'ldap');
  });

  it('a service with errors prints them and exits 1', async () => {
    const dir = siteDir({
      'services/web/www.yaml': yaml(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  group: ap',
      ),
    });
    const r = await cli(['explain', dir, 'web/www']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /E_UNKNOWN_GROUP/);
  });
});

describe('secrets: never world-readable, never printed', () => {
  const PW = 'S3cr3t-bgp-pw';
  const withPassword = (pw: string): FileOverrides => ({
    'site.yaml': BASE_SITE['site.yaml']!.replace('as: 65000 }', `as: 65000, password: ${pw} }`),
    'certs/www.pem': certBundle(['www.test.example']),
    'services/web/www.yaml': yaml(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'ssl: true',
      'backend:',
      '  group: app',
    ),
  });
  const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

  it('build writes the BIRD configuration and the certificate bundles 0600, the rest 0644', async () => {
    const site = siteDir(withPassword(PW));
    const out = join(scratch, 'out-secrets');
    const r = await cli(['build', site, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const node = join(out, 'lb1');
    assert.equal(mode(join(node, 'bird/intentlb.conf')), '600');
    assert.match(readFileSync(join(node, 'bird/intentlb.conf'), 'utf8'), new RegExp(`password "${PW}"`));
    assert.equal(mode(join(node, 'certs/www.pem')), '600');
    const manifest = JSON.parse(readFileSync(join(node, 'manifest.json'), 'utf8')) as {
      files: Record<string, string>;
      modes: Record<string, string>;
    };
    assert.deepEqual(manifest.modes, { 'bird/intentlb.conf': '0600', 'certs/www.pem': '0600' });
    for (const f of Object.keys(manifest.files)) {
      const text = readFileSync(join(node, f), 'utf8');
      if (f in manifest.modes) continue;
      assert.equal(mode(join(node, f)), '644', f);
      assert.ok(!text.includes(PW), `${f} holds the BGP password`);
      assert.ok(!text.includes('PRIVATE KEY'), `${f} holds a private key`);
    }
  });

  it('plan masks BGP passwords in diffs and never shows a key, in text and JSON', async () => {
    const root = join(scratch, 'root-secrets');
    const first = await cli(['plan', siteDir(withPassword(PW)), '--node', 'lb1', '--root', root]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /\+\s*password "\(secret\)";/);
    assert.ok(!first.stdout.includes(PW));
    assert.doesNotMatch(first.stdout, /PRIVATE KEY/);

    // Installed with one password, planned with another: neither is printed, the change is.
    const site = siteDir(withPassword(PW));
    const l = load(diskFs(site));
    const c = await compile(l.value, { now: new Date() });
    const store = openStore(root);
    const files = renderSite(c.model!, l.value.sources, l.value.certs, store.layout)[0]!.files;
    switchTo(store, writeGeneration(store, files));
    const next = siteDir(withPassword('0ther-bgp-pw'));
    for (const format of ['text', 'json']) {
      const r = await cli(['plan', next, '--node', 'lb1', '--root', root, '--format', format]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /bird\/intentlb\.conf/);
      assert.match(r.stdout, /secret values changed/);
      assert.ok(!r.stdout.includes(PW) && !r.stdout.includes('0ther-bgp-pw'), r.stdout);
    }
  });
});

describe('intentlb schema', () => {
  const kinds = ['service', 'defaults', 'site', 'inventory', 'dns'] as const;
  for (const kind of kinds) {
    it(`prints a draft-07 JSON Schema for ${kind} files`, async () => {
      const r = await cli(['schema', kind]);
      assert.equal(r.code, 0);
      const s = JSON.parse(r.stdout) as {
        $schema: string;
        type: string;
        properties?: Record<string, unknown>;
      };
      assert.equal(s.$schema, 'http://json-schema.org/draft-07/schema#');
      assert.equal(s.type, 'object');
    });
  }

  it('service is the default kind and lists every service key', async () => {
    const r = await cli(['schema']);
    const s = JSON.parse(r.stdout) as { properties: Record<string, unknown>; additionalProperties: unknown };
    assert.deepEqual(Object.keys(s.properties).sort(), Object.keys(serviceSchema.shape).sort());
    assert.ok(Object.keys(s.properties).includes('ssl_redirect'));
    assert.equal(s.additionalProperties, false, 'editors flag unknown keys');
  });

  it('defaults add lock; site and inventory have their own top-level keys', async () => {
    const props = async (kind: string) =>
      Object.keys((JSON.parse((await cli(['schema', kind])).stdout) as { properties: object }).properties);
    assert.ok((await props('defaults')).includes('lock'));
    assert.ok(!(await props('service')).includes('lock'));
    const site = await props('site');
    for (const k of ['site', 'nodes', 'ha', 'tls', 'instances', 'teams', 'dns'])
      assert.ok(site.includes(k), k);
    assert.deepEqual(await props('inventory'), ['groups']);
  });
});

describe('the real executable', () => {
  it('bin/intentlb.mjs check examples/campus exits 0', async () => {
    const r = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/intentlb.mjs'), 'check', 'examples/campus'],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    assert.match(r.stdout, /^campus: .* ok$/m);
    assert.equal(r.stderr, '');
  });

  it('exits 1 on errors and 2 on usage errors as a process too', async () => {
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [join(ROOT, 'bin/intentlb.mjs'), ...args], { cwd: ROOT }).then(
        () => 0,
        (e: { code: number; stderr: string }) => {
          assertNoStack(e.stderr);
          return e.code;
        },
      );
    assert.equal(await run(['check', siteDir(TYPO)]), 1);
    assert.equal(await run(['check']), 2);
  });
});
