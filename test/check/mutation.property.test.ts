import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isMap, isPair, isScalar, isSeq, type Node, parseDocument, Scalar } from 'yaml';
import { CODES, formatDiagnostic } from '../../src/diagnostics/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { certBundle } from '../helpers/certs.ts';
import { compileFiles, withFiles, yaml } from '../helpers/site.ts';

/** A valid site using most of the vocabulary; every run mutates a copy of it. */
const TREE: Readonly<Record<string, string>> = withFiles(BASE_SITE, {
  'certs/star.pem': certBundle(['*.test.example']),
  'services/web/defaults.yaml': yaml(
    'ssl: true',
    'backend:',
    '  port: 8080',
    '  check: { path: /healthz, expect: 200 }',
    'lock: [ssl]',
  ),
  'services/web/shop.yaml': yaml(
    'description: Shop with routes',
    'fqdn: [shop.test.example, store.test.example]',
    'ssl_redirect: false',
    'backend:',
    '  group: app',
    '  sticky: cookie',
    '  cookie: SHOPID',
    'routes:',
    '  - { path_prefix: /api/, backend: { group: db, port: 9000 } }',
    '  - { host: admin.test.example, backend: { servers: [{ name: adm1, address: 198.18.10.40 }, { name: adm2, address: 198.18.10.41, backup: true }] } }',
    'redirects:',
    '  - { path_prefix: /old, to: /new, code: 301 }',
    'allow: [198.18.0.0/15, "2001:db8::/32"]',
  ),
  'services/db/mail.yaml': yaml(
    'vip: 198.18.20.25',
    'protocol: smtp',
    'backend:',
    '  group: db',
    '  proxy_protocol: v1',
    '  check: { interval: 5s, rise: 2, fall: 2 }',
  ),
});

type Path = (string | number)[];

/** Every map key and list item in a document, with its path. */
function paths(node: unknown, prefix: Path = []): { path: Path; isKey: boolean }[] {
  const out: { path: Path; isKey: boolean }[] = [];
  if (isMap(node)) {
    for (const p of node.items) {
      if (!isPair(p) || !isScalar(p.key)) continue;
      const path = [...prefix, String(p.key.value)];
      out.push({ path, isKey: true }, ...paths(p.value, path));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      out.push({ path: [...prefix, i], isKey: false }, ...paths(item, [...prefix, i]));
    });
  }
  return out;
}

type Mutation =
  | { kind: 'delete-key'; file: number; at: number }
  | { kind: 'replace'; file: number; at: number; value: unknown }
  | { kind: 'rename'; file: number; at: number; name: string }
  | { kind: 'truncate'; file: number; fraction: number }
  | { kind: 'insert-text'; file: number; fraction: number; text: string }
  | { kind: 'duplicate-service'; file: number; name: string }
  | { kind: 'remove-file'; file: number };

const keyNames = fc.constantFrom(
  'ssl_redirct',
  'vip',
  'vip6',
  'fqdn',
  'backend',
  'group',
  'servers',
  'port',
  'ports',
  'lock',
  'check',
  'protocol',
  'routes',
  '__proto__',
  'constructor',
  'toString',
  'a b',
  'groups',
  'hosts',
  'all',
  'children',
  'nodes',
  'teams',
);
const scalarValue = fc.oneof(
  fc.integer({ min: -1, max: 70000 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    'http',
    'tcp',
    'ldap',
    'app',
    'empty',
    'db',
    'nope',
    '198.18.100.10',
    '198.18.20.10',
    '198.18.0.11',
    '10.1',
    '2001:db8:100::1',
    '/x',
    'x#y',
    'a b',
    '*.test.example',
    'www.test.example',
    'multi.test.example',
    'cookie',
    'v2',
    '2s',
  ),
  fc.string({ maxLength: 8 }),
  fc.string({ maxLength: 6 }).map((s) => `${s}\nbind :1 #`),
);
const anyValue = fc.oneof(
  scalarValue,
  fc.array(scalarValue, { maxLength: 3 }),
  fc.dictionary(keyNames, scalarValue, { maxKeys: 3, noNullPrototype: true }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete-key' as const), file: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), file: fc.nat(), at: fc.nat(), value: anyValue }),
  fc.record({ kind: fc.constant('rename' as const), file: fc.nat(), at: fc.nat(), name: keyNames }),
  fc.record({
    kind: fc.constant('truncate' as const),
    file: fc.nat(),
    fraction: fc.double({ min: 0, max: 1 }),
  }),
  fc.record({
    kind: fc.constant('insert-text' as const),
    file: fc.nat(),
    fraction: fc.double({ min: 0, max: 1 }),
    text: fc.constantFrom(': [', '{', '\t', '*x', '&a ', '"', '\n  - ', '\n---\n', ' #', '\u0000', '? '),
  }),
  fc.record({
    kind: fc.constant('duplicate-service' as const),
    file: fc.nat(),
    name: fc.constantFrom('copy', 'web/copy', 'db/copy', 'web/deep/copy'),
  }),
  fc.record({ kind: fc.constant('remove-file' as const), file: fc.nat() }),
);

function pick<T>(list: readonly T[], n: number): T | undefined {
  return list.length === 0 ? undefined : list[n % list.length];
}

/** Applies one mutation to a copy of the tree. */
function apply(files: Record<string, string>, m: Mutation): Record<string, string> {
  const out = { ...files };
  const names = Object.keys(out)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const file = pick(names, m.file);
  if (file === undefined) return out;
  const text = out[file]!;
  switch (m.kind) {
    case 'truncate':
      out[file] = text.slice(0, Math.floor(text.length * m.fraction));
      return out;
    case 'insert-text': {
      const at = Math.floor(text.length * m.fraction);
      out[file] = text.slice(0, at) + m.text + text.slice(at);
      return out;
    }
    case 'remove-file':
      delete out[file];
      return out;
    case 'duplicate-service': {
      const service = pick(
        names.filter((f) => f.startsWith('services/') && !f.endsWith('/defaults.yaml')),
        m.file,
      );
      if (service) out[`services/${m.name}.yaml`] = out[service]!;
      return out;
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return out;
  const all = paths(doc.contents);
  if (m.kind === 'delete-key' || m.kind === 'replace') {
    const target = pick(all, m.at);
    if (!target) return out;
    if (m.kind === 'delete-key') doc.deleteIn(target.path);
    else doc.setIn(target.path, doc.createNode(m.value));
  } else {
    const target = pick(
      all.filter((p) => p.isKey),
      m.at,
    );
    if (!target) return out;
    const parent = target.path.length === 1 ? doc.contents : doc.getIn(target.path.slice(0, -1), true);
    if (!isMap(parent)) return out;
    const pair = parent.items.find(
      (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(target.path.at(-1)),
    );
    if (pair) pair.key = new Scalar(m.name) as unknown as Node;
  }
  out[file] = doc.toString();
  return out;
}

describe('compile under random mutations of a valid tree', () => {
  it('starts from a clean tree', async () => {
    const r = await compileFiles(TREE);
    assert.deepEqual(r.all, []);
    assert.ok(r.model);
  });

  it('accepts or rejects with well-formed diagnostics, and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const files = ms.reduce(apply, { ...TREE });
        const r = await compileFiles(files);
        for (const d of r.all) {
          const where = `${d.code} at ${d.file}:${d.line}:${d.column} (${d.message})`;
          assert.ok(d.code in CODES, `unknown code: ${where}`);
          assert.equal(d.severity, CODES[d.code].severity, where);
          assert.ok(d.message.length > 0, where);
          assert.ok(
            files[d.file] !== undefined || (d.code === 'E_MISSING_FILE' && d.file === 'site.yaml'),
            `diagnostic in a file that is not in the tree: ${where}`,
          );
          assert.ok(Number.isInteger(d.line) && d.line >= 1, where);
          assert.ok(Number.isInteger(d.column) && d.column >= 1, where);
          const text = files[d.file];
          if (text !== undefined) assert.ok(d.line <= text.split('\n').length, `line past the end: ${where}`);
          for (const rel of d.related ?? []) {
            assert.ok(files[rel.file] !== undefined, `related file not in the tree: ${where}`);
            assert.ok(rel.line >= 1 && rel.column >= 1, where);
          }
          assert.match(formatDiagnostic(d, r.loaded.sources, false), new RegExp(d.code));
        }
        const errors = r.all.some((d) => d.severity === 'error');
        assert.equal(r.model === undefined, errors, 'a model exactly when no error stands');
        for (const s of r.model?.services ?? []) {
          assert.ok(s.vip !== undefined || s.vip6 !== undefined, `${s.id} has a VIP`);
          assert.ok(s.listeners.length > 0, `${s.id} listens`);
          for (const l of s.listeners) assert.ok(l.port >= 1 && l.port <= 65535, `${s.id} port ${l.port}`);
        }
      }),
      { numRuns: 200 },
    );
  });
});
