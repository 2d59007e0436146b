import assert from 'node:assert/strict';
import dnsPromises from 'node:dns/promises';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach, describe, it, mock } from 'node:test';
import type { DnsAnswer, DnsResolver } from '../../src/infer/dns.ts';
import type { ServiceModel, Source } from '../../src/model/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { certBundle } from '../helpers/certs.ts';
import { compileFiles, type FileOverrides, withFiles, yaml } from '../helpers/site.ts';

/** The service under test lives in a folder no team owns, so only inference is at work. */
const SVC = 'services/lab/svc.yaml';

/** What a table row may assert about the completed service; absent keys are not checked. */
interface Derived {
  protocol: string;
  mode: string;
  /** Each listener as `port[/tls][ redirect]`. */
  listeners: string[];
  sslRedirect: boolean;
  vip: string | undefined;
  vip6: string | undefined;
  checkType: string;
  checkPath: string;
  checkHost: string | undefined;
  backendPort: number;
  balance: string;
  /** x-forwarded-for | proxy-v1 | proxy-v2 | tproxy | none */
  clientAddress: string;
  hstsSeconds: number | undefined;
  certs: string[];
  monitoringUrl: string;
}

interface InferCase {
  name: string;
  service: string;
  files?: FileOverrides;
  expect: Partial<Derived>;
  /** Provenance: `rule:<name>` for inferred fields, `file:line:column` for written ones. */
  sources?: Record<string, string>;
}

function derive(s: ServiceModel): Derived {
  const b = s.backend;
  return {
    protocol: s.protocol,
    mode: s.mode,
    listeners: s.listeners.map(
      (l) => `${l.port}${l.tls ? '/tls' : ''}${l.role === 'redirect-https' ? ' redirect' : ''}`,
    ),
    sslRedirect: s.sslRedirect,
    vip: s.vip,
    vip6: s.vip6,
    checkType: b.check.type,
    checkPath: b.check.path,
    checkHost: b.check.host,
    backendPort: b.servers[0]?.port ?? -1,
    balance: b.balance,
    clientAddress: b.transparent
      ? 'tproxy'
      : s.forwardFor
        ? 'x-forwarded-for'
        : b.proxyProtocol
          ? `proxy-${b.proxyProtocol}`
          : 'none',
    hstsSeconds: s.hstsSeconds,
    certs: s.certs,
    monitoringUrl: s.monitoring.url,
  };
}

function sourceText(s: Source | undefined): string {
  if (s === undefined) return 'none';
  return s.kind === 'rule' ? `rule:${s.rule}` : `${s.file}:${s.line}:${s.column}`;
}

const wildcard = certBundle(['*.test.example']);
const group = (...extra: string[]) => ['backend:', '  group: db', ...extra];

const cases: InferCase[] = [
  {
    name: 'http by default: port 80, http mode and check, X-Forwarded-For',
    service: yaml('vip: 198.18.30.1', ...group()),
    expect: {
      protocol: 'http',
      mode: 'http',
      listeners: ['80'],
      checkType: 'http',
      checkPath: '/',
      backendPort: 80,
      balance: 'roundrobin',
      clientAddress: 'x-forwarded-for',
      monitoringUrl: '/',
    },
    sources: {
      vip: `${SVC}:1:6`,
      protocol: 'rule:default-protocol',
      mode: 'rule:mode-from-protocol',
      ports: 'rule:ports-from-protocol',
      listeners: 'rule:listeners-from-ports',
      'backend.port': 'rule:backend-port-from-protocol',
      'backend.servers': 'rule:servers-from-group',
      'backend.check.type': 'rule:check-from-protocol',
      'backend.check.interval': 'services/defaults.yaml:2:22',
      client_address: 'rule:client-address',
      'monitoring.url': 'rule:monitoring-url-from-check',
    },
  },
  {
    name: 'http + ssl: 443 with TLS, port 80 redirects (ssl_redirect defaults to true)',
    service: yaml('fqdn: a.test.example', 'vip: 198.18.30.1', 'ssl: true', ...group()),
    expect: { listeners: ['80 redirect', '443/tls'], sslRedirect: true, certs: ['certs/star.pem'] },
    sources: {
      ssl: `${SVC}:3:6`,
      ssl_redirect: 'rule:ssl-redirect-default',
      certs: 'rule:certs-from-san',
    },
  },
  {
    name: 'ssl_redirect: false passes port 80 to the backend unchanged',
    service: yaml('fqdn: a.test.example', 'vip: 198.18.30.1', 'ssl: true', 'ssl_redirect: false', ...group()),
    expect: { listeners: ['80', '443/tls'], sslRedirect: false },
    sources: { ssl_redirect: `${SVC}:4:15` },
  },
  {
    name: 'written ports win over the protocol ports',
    service: yaml('vip: 198.18.30.1', 'ports: [8080]', ...group()),
    expect: { listeners: ['8080'], backendPort: 80 },
    sources: { ports: `${SVC}:2:8` },
  },
  {
    name: 'smtp: port 25, tcp mode, smtp check, servers on 25',
    service: yaml('vip: 198.18.30.1', 'protocol: smtp', ...group()),
    expect: { mode: 'tcp', listeners: ['25'], checkType: 'smtp', backendPort: 25, clientAddress: 'none' },
    sources: { protocol: `${SVC}:2:11` },
  },
  {
    name: 'smtp + ssl: TLS on 465 only, servers still on 25',
    service: yaml('fqdn: mx.test.example', 'vip: 198.18.30.1', 'protocol: smtp', 'ssl: true', ...group()),
    expect: { listeners: ['465/tls'], sslRedirect: false, backendPort: 25 },
  },
  {
    name: 'ldap: 389, ldap check, leastconn',
    service: yaml('vip: 198.18.30.1', 'protocol: ldap', ...group()),
    expect: { mode: 'tcp', listeners: ['389'], checkType: 'ldap', backendPort: 389, balance: 'leastconn' },
  },
  {
    name: 'ldap + ssl: 636',
    service: yaml('fqdn: ldap.test.example', 'vip: 198.18.30.1', 'protocol: ldap', 'ssl: true', ...group()),
    expect: { listeners: ['636/tls'] },
  },
  {
    name: 'mysql: 3306, mysql check',
    service: yaml('vip: 198.18.30.1', 'protocol: mysql', ...group()),
    expect: { mode: 'tcp', listeners: ['3306'], checkType: 'mysql', backendPort: 3306 },
  },
  {
    name: 'pgsql: 5432, pgsql check',
    service: yaml('vip: 198.18.30.1', 'protocol: pgsql', ...group()),
    expect: { mode: 'tcp', listeners: ['5432'], checkType: 'pgsql', backendPort: 5432 },
  },
  {
    name: 'redis: 6379, redis check',
    service: yaml('vip: 198.18.30.1', 'protocol: redis', ...group()),
    expect: { mode: 'tcp', listeners: ['6379'], checkType: 'redis', backendPort: 6379 },
  },
  {
    name: 'imap: 143; with ssl 993',
    service: yaml('fqdn: imap.test.example', 'vip: 198.18.30.1', 'protocol: imap', 'ssl: true', ...group()),
    expect: { mode: 'tcp', listeners: ['993/tls'], checkType: 'imap', backendPort: 143 },
  },
  {
    name: 'tcp: a TCP connect check, servers on the first listening port',
    service: yaml('vip: 198.18.30.1', 'protocol: tcp', 'ports: [9000, 9001]', ...group()),
    expect: { mode: 'tcp', listeners: ['9000', '9001'], checkType: 'tcp', backendPort: 9000 },
    sources: { 'backend.port': 'rule:backend-port-from-protocol', ports: `${SVC}:3:8` },
  },
  {
    name: 'a written backend.port and check type win',
    service: yaml('vip: 198.18.30.1', 'protocol: mysql', ...group('  port: 13306', '  check: { type: tcp }')),
    expect: { backendPort: 13306, checkType: 'tcp' },
    sources: { 'backend.port': `${SVC}:5:9`, 'backend.check.type': `${SVC}:6:18` },
  },
  {
    name: 'client address: PROXY protocol v2 for a TCP service',
    service: yaml('vip: 198.18.30.1', 'protocol: ldap', ...group('  proxy_protocol: v2')),
    expect: { clientAddress: 'proxy-v2' },
    sources: { client_address: 'rule:client-address' },
  },
  {
    name: 'client address: transparent means TPROXY',
    service: yaml('vip: 198.18.30.1', 'protocol: pgsql', ...group('  transparent: true')),
    expect: { clientAddress: 'tproxy' },
  },
  {
    name: 'vip and vip6 from the A and AAAA records of the first fqdn (dns.yaml)',
    service: yaml('fqdn: [shop.test.example, other.test.example]', ...group()),
    expect: { vip: '198.18.100.20', vip6: '2001:db8:100::20' },
    sources: { vip: 'rule:vip-from-dns', vip6: 'rule:vip6-from-dns', fqdn: `${SVC}:1:7` },
  },
  {
    name: 'a written vip does not stop vip6 from the AAAA record',
    service: yaml('fqdn: shop.test.example', 'vip: 198.18.100.20', ...group()),
    expect: { vip: '198.18.100.20', vip6: '2001:db8:100::20' },
    sources: { vip: `${SVC}:2:6`, vip6: 'rule:vip6-from-dns' },
  },
  {
    name: 'an A-only name gives no vip6',
    service: yaml('fqdn: www2.test.example', ...group()),
    files: { 'dns.yaml': yaml('www.test.example: 198.18.100.10', 'www2.test.example: 198.18.100.99') },
    expect: { vip: '198.18.100.99', vip6: undefined },
  },
  {
    name: 'hsts from site.yaml tls.hsts for TLS web services',
    service: yaml('fqdn: a.test.example', 'vip: 198.18.30.1', 'ssl: true', ...group()),
    files: { 'site.yaml': BASE_SITE['site.yaml']!.replace('certs: certs }', 'certs: certs, hsts: true }') },
    expect: { hstsSeconds: 31_536_000 },
    sources: { hsts: 'rule:hsts-from-site' },
  },
  {
    name: 'a written hsts wins; plain HTTP gets none',
    service: yaml('vip: 198.18.30.1', 'hsts: 600', ...group()),
    expect: { hstsSeconds: undefined },
  },
  {
    name: 'monitoring url follows the check path',
    service: yaml('vip: 198.18.30.1', ...group('  check: { path: /healthz }')),
    expect: { checkPath: '/healthz', monitoringUrl: '/healthz' },
    sources: { 'backend.check.path': `${SVC}:4:18`, 'monitoring.url': 'rule:monitoring-url-from-check' },
  },
  {
    name: 'HTTP checks ask for the first fqdn; a written check host wins',
    service: yaml(
      'fqdn: [a.test.example, b.test.example]',
      'vip: 198.18.30.1',
      ...group(),
      'routes:',
      '  - { path_prefix: /b, backend: { group: db, check: { host: b.test.example } } }',
    ),
    expect: { checkHost: 'a.test.example' },
    sources: {
      'backend.check.host': 'rule:check-host-from-fqdn',
      // Lists are leaves to provenance: a value written inside a route is sourced by `routes`.
      'routes.0.backend.check.host': 'none',
      routes: `${SVC}:6:3`,
    },
  },
  {
    name: 'no fqdn, no check host',
    service: yaml('vip: 198.18.30.1', ...group()),
    expect: { checkHost: undefined },
  },
  {
    name: 'a deeper defaults file overrides the root one, and provenance says so',
    service: yaml('vip: 198.18.30.1', ...group()),
    files: {
      'services/lab/defaults.yaml': yaml('backend:', '  check: { interval: 5s }', '  balance: source'),
    },
    expect: { balance: 'source' },
    sources: {
      'backend.check.interval': 'services/lab/defaults.yaml:2:22',
      'backend.check.rise': 'services/defaults.yaml:2:32',
      'backend.balance': 'services/lab/defaults.yaml:3:12',
    },
  },
];

function siteWith(c: InferCase): Record<string, string> {
  return withFiles(BASE_SITE, { 'certs/star.pem': wildcard, ...c.files, [SVC]: c.service });
}

describe('inference rules', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await compileFiles(siteWith(c));
      assert.deepEqual(
        r.all.filter((d) => d.severity === 'error'),
        [],
      );
      const s = r.services.find((x) => x.file === SVC);
      assert.ok(s, 'the service is compiled');
      const got = derive(s);
      const picked = Object.fromEntries(Object.keys(c.expect).map((k) => [k, got[k as keyof Derived]]));
      assert.deepEqual(picked, c.expect);
      for (const [path, want] of Object.entries(c.sources ?? {}))
        assert.equal(sourceText(s.sources[path]), want, `source of ${path}`);
    });
  }

  it('several A records and no vip is E_NO_VIP, not a guess', async () => {
    const r = await compileFiles(
      siteWith({ name: '', service: yaml('fqdn: multi.test.example', ...group()), expect: {} }),
    );
    assert.deepEqual(
      r.all.map((d) => `${d.code} ${d.file}:${d.line}:${d.column}`),
      [`E_NO_VIP ${SVC}:1:7`],
    );
    assert.equal(r.services.find((s) => s.file === SVC)?.vip, undefined);
  });

  it('route backends get their own inferred check host unless they write one', async () => {
    const r = await compileFiles(
      siteWith({
        name: '',
        service: yaml(
          'fqdn: [a.test.example, b.test.example]',
          'vip: 198.18.30.1',
          ...group(),
          'routes:',
          '  - { path_prefix: /b, backend: { group: db, check: { host: b.test.example } } }',
          '  - { path_prefix: /c, backend: { group: db } }',
        ),
        expect: {},
      }),
    );
    const s = r.services.find((x) => x.file === SVC)!;
    assert.deepEqual(
      s.routes.map((x) => x.backend.check.host),
      ['b.test.example', 'a.test.example'],
    );
    assert.equal(sourceText(s.sources['routes.1.backend.check.host']), 'rule:check-host-from-fqdn');
  });

  it('a rule never overrides a written value: every written leaf keeps its file source', async () => {
    const r = await compileFiles(
      siteWith({
        name: '',
        service: yaml(
          'vip: 198.18.30.1',
          'protocol: http',
          'ports: [80]',
          'backend:',
          '  group: db',
          '  port: 8080',
          '  check: { type: http, path: /x }',
        ),
        expect: {},
      }),
    );
    const s = r.services.find((x) => x.file === SVC)!;
    for (const path of ['vip', 'protocol', 'ports', 'backend.group', 'backend.port', 'backend.check.type']) {
      assert.equal(s.sources[path]?.kind, 'file', path);
    }
  });
});

/** A resolver from a table that records what it was asked. */
function recordingResolver(answers: Record<string, DnsAnswer>): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async resolve(name) {
      asked.push(name);
      return answers[name];
    },
  };
}

describe('DNS through the resolver interface', () => {
  afterEach(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
  });

  it('an injected resolver replaces dns.yaml', async () => {
    const resolver = recordingResolver({
      'shop.test.example': { kind: 'found', a: ['198.18.100.77'], aaaa: [], source: 'injected' },
      'www.test.example': { kind: 'found', a: ['198.18.100.10'], aaaa: [], source: 'injected' },
    });
    const r = await compileFiles(
      siteWith({ name: '', service: yaml('fqdn: SHOP.test.example.', ...group()), expect: {} }),
      { resolver },
    );
    assert.deepEqual(r.all, []);
    const s = r.services.find((x) => x.file === SVC)!;
    assert.equal(s.vip, '198.18.100.77');
    assert.equal(s.vip6, undefined);
    assert.deepEqual(s.sources.vip, {
      kind: 'rule',
      rule: 'vip-from-dns',
      detail: 'A record of shop.test.example (injected)',
    });
    assert.deepEqual([...resolver.asked].sort(), ['shop.test.example', 'www.test.example']);
  });

  /** Replaces the system resolver's lookup; the compiler's own default path is what runs. */
  function mockSystemLookup(): string[] {
    const calls: string[] = [];
    mock.method(dnsPromises, 'lookup', async (name: string) => {
      calls.push(name);
      return [
        { address: '198.18.30.50', family: 4 },
        { address: '2001:db8:30::50', family: 6 },
      ];
    });
    syncBuiltinESMExports();
    return calls;
  }

  it('the system resolver is not asked unless site.yaml dns.resolver is true', async () => {
    const calls = mockSystemLookup();
    const r = await compileFiles(
      siteWith({ name: '', service: yaml('fqdn: elsewhere.test.example', ...group()), expect: {} }),
    );
    assert.deepEqual(calls, [], 'no system lookup while dns.resolver is off');
    assert.deepEqual(
      r.all.map((d) => d.code),
      ['E_DNS_UNRESOLVED'],
    );
  });

  it('with dns.resolver: true, names missing from dns.yaml go to the system resolver', async () => {
    const calls = mockSystemLookup();
    const r = await compileFiles(
      withFiles(
        siteWith({ name: '', service: yaml('fqdn: elsewhere.test.example', ...group()), expect: {} }),
        {
          'site.yaml': `${BASE_SITE['site.yaml']}dns: { resolver: true, timeout: 500ms }\n`,
        },
      ),
    );
    assert.deepEqual(r.all, []);
    assert.deepEqual(calls, ['elsewhere.test.example'], 'dns.yaml answers www.test.example first');
    const s = r.services.find((x) => x.file === SVC)!;
    assert.equal(s.vip, '198.18.30.50');
    assert.equal(s.vip6, '2001:db8:30::50');
    assert.match(sourceText(s.sources.vip), /rule:vip-from-dns/);
    assert.match((s.sources.vip as { detail: string }).detail, /system resolver/);
  });
});
