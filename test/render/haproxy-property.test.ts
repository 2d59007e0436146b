import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { renderSite, writeFiles } from '../../src/build/build.ts';
import { runTool } from '../../src/build/run-tool.ts';
import { certBundle } from '../helpers/certs.ts';
import { compileFiles } from '../helpers/site.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

// Property: every intent the compiler accepts renders to HAProxy configurations that the real
// haproxy -c accepts. Random services over a fixed platform; invalid samples are simply rejected
// by the compiler (that is the other half of the contract, tested in test/check).

const SITE = [
  'site: prop',
  'nodes:',
  '  - { name: lb1, address: 198.18.0.11, address6: "2001:db8::11" }',
  'ha: { mode: anycast, bgp: { local_as: 65001, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }] } }',
  'tls: { policy: intermediate, certs: certs }',
  '',
].join('\n');
const INVENTORY = [
  'groups:',
  '  a: { hosts: { a1: 198.18.10.1, a2: 198.18.10.2 } }',
  '  b: { hosts: { b1: 198.18.11.1, b2: { address6: "2001:db8:11::2" } } }',
  '',
].join('\n');

const backend = fc.record(
  {
    group: fc.constantFrom('a', 'b'),
    port: fc.integer({ min: 1, max: 65535 }),
    balance: fc.constantFrom('roundrobin', 'leastconn', 'source', 'first', 'random'),
    sticky: fc.constantFrom('none', 'source', 'cookie'),
    proxy_protocol: fc.constantFrom('v1', 'v2'),
    transparent: fc.boolean(),
    ssl: fc.boolean(),
    maxconn: fc.integer({ min: 1, max: 100_000 }),
    check: fc.record(
      {
        type: fc.constantFrom(
          'http',
          'tcp',
          'smtp',
          'ldap',
          'mysql',
          'pgsql',
          'redis',
          'imap',
          'pop3',
          'none',
        ),
        path: fc.constantFrom('/', '/health', '/a/b?c=d'),
        expect: fc.constantFrom(200, 204, 'ok'),
        interval: fc.constantFrom('200ms', '2s', 1500),
        rise: fc.integer({ min: 1, max: 5 }),
        fall: fc.integer({ min: 1, max: 5 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['group'] },
);

const service = (i: number) =>
  fc
    .record(
      {
        description: fc.string({ maxLength: 30 }),
        fqdn: fc.constant(`s${i}.prop.example`),
        vip: fc.constant(`198.18.100.${i + 1}`),
        vip6: fc.constant(`2001:db8:100::${i + 1}`),
        protocol: fc.constantFrom('http', 'tcp', 'smtp', 'imap', 'ldap', 'mysql', 'pgsql', 'redis'),
        ports: fc.uniqueArray(fc.integer({ min: 1, max: 8998 }), { minLength: 1, maxLength: 3 }),
        ssl: fc.boolean(),
        ssl_redirect: fc.boolean(),
        hsts: fc.oneof(fc.boolean(), fc.integer({ min: 1, max: 100_000_000 })),
        allow: fc.constantFrom(['198.18.0.0/15'], ['198.18.0.0/15', '2001:db8::/32']),
        maxconn: fc.integer({ min: 1, max: 100_000 }),
        timeouts: fc.record({ client: fc.constantFrom('30s', '1m', 5000) }, { requiredKeys: [] }),
        backend,
        routes: fc.array(
          fc.record({
            path_prefix: fc.constantFrom('/api', '/v1/x', '/static'),
            backend: fc.record({ group: fc.constantFrom('a', 'b') }),
          }),
          { maxLength: 2 },
        ),
        redirects: fc.array(
          fc.record({
            path_prefix: fc.constantFrom('/old', '/legacy'),
            to: fc.constantFrom('https://x.prop.example/n', '/new'),
            code: fc.constantFrom(301, 302, 308),
          }),
          { maxLength: 2 },
        ),
      },
      { requiredKeys: ['fqdn', 'vip', 'backend'] },
    )
    .map((s) => {
      // Routes, redirects and cookies need HTTP; keep the samples mostly valid so the property bites.
      if ((s.protocol ?? 'http') === 'http') return s;
      const { routes: _r, redirects: _d, ...rest } = s;
      return {
        ...rest,
        backend: { ...s.backend, sticky: s.backend.sticky === 'cookie' ? 'source' : s.backend.sticky },
      };
    });

it('every accepted random intent renders configs that haproxy -c accepts', { timeout: 240_000 }, async () => {
  const haproxy = requireTool('haproxy');
  const bundle = certBundle(['*.prop.example']);
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(fc.tuple(service(0), service(1), service(2)), async (services) => {
      const files: Record<string, string> = {
        'site.yaml': SITE,
        'inventory.yaml': INVENTORY,
        'certs/star.prop.example.pem': bundle,
      };
      services.forEach((s, i) => {
        files[`services/s${i}.yaml`] = stringify(JSON.parse(JSON.stringify(s)));
      });
      const run = await compileFiles(files);
      if (!run.model) {
        if (process.env.PROP_DEBUG)
          for (const d of run.all) if (d.severity === 'error') console.log('REJ', d.code, d.message);
        return; // rejected with diagnostics: fine
      }
      accepted++;
      const [node] = renderSite(run.model, run.loaded.sources, run.loaded.certs);
      await withTempDir(async (dir) => {
        writeFiles(dir, node!.files);
        const r = await runTool(haproxy, ['-c', '-q', '-f', join(dir, 'haproxy')]);
        assert.ok(
          r.ok,
          `haproxy -c rejected an accepted intent:\n${r.output}\n${JSON.stringify(services, null, 1)}`,
        );
      });
    }),
    { numRuns: 60 },
  );
  if (process.env.PROP_DEBUG) console.log(`accepted ${accepted} of 60`);
  assert.ok(
    accepted >= 15,
    `only ${accepted} of 60 random intents were accepted: the generator tests too little`,
  );
});
