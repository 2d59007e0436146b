import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../../src/compile.ts';
import { CODES, type Code, type Diagnostic } from '../../src/diagnostics/index.ts';
import type { DnsAnswer, DnsResolver } from '../../src/infer/dns.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { certBundle, certOnly } from '../helpers/certs.ts';
import { compileFiles, daysFromNow, type FileOverrides, withFiles, yaml } from '../helpers/site.ts';

/** One expected diagnostic: code and position; `hint` when the case is about the hint. */
interface Expected {
  code: Code;
  file: string;
  line: number;
  column: number;
  hint?: RegExp;
}

interface Case {
  name: string;
  /** Changes to BASE_SITE: a path with text replaces or adds the file, `null` removes it. */
  files: FileOverrides;
  /** Paths that stand for a symbolic link or a special file (see memoryFs). */
  odd?: Record<string, 'link' | 'special'>;
  now?: Date;
  resolver?: DnsResolver;
}

/** Compiles to a model; `warnings` lists every diagnostic it must print (none by default). */
interface ValidCase extends Case {
  warnings?: Expected[];
}

/** Must not compile; `errors` lists every diagnostic (errors and warnings) it must print. */
interface InvalidCase extends Case {
  errors: Expected[];
}

const WWW = 'services/web/www.yaml';
const PG = 'services/db/pg.yaml';
const www = (...lines: string[]): FileOverrides => ({ [WWW]: yaml(...lines) });
const pg = (...lines: string[]): FileOverrides => ({ [PG]: yaml(...lines) });

/** A service nested 65 collections deep: the root map, then 64 maps below `k`. */
const DEEP = [
  'fqdn: www.test.example',
  ...Array.from({ length: 64 }, (_, i) => `${' '.repeat(i)}k:`),
  `${' '.repeat(64)}v: 1`,
];

const wwwBundle = certBundle(['www.test.example', 'www2.test.example']);
const wildcardBundle = certBundle(['*.test.example']);

/** Answers from a table; a name not in it fails the test (no network, no surprises). */
function tableResolver(answers: Record<string, DnsAnswer>): DnsResolver {
  return {
    async resolve(name) {
      const a = answers[name];
      if (a === undefined) throw new Error(`unexpected DNS lookup of ${name}`);
      return a;
    },
  };
}

const valid: ValidCase[] = [
  { name: 'the base site', files: {} },
  {
    name: 'a TLS service whose FQDN a bundle SAN names',
    files: {
      'certs/www.pem': wwwBundle,
      ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'ssl: true', 'backend:', '  group: app'),
    },
  },
  {
    name: 'a TLS service covered by a wildcard bundle',
    files: {
      'certs/star.pem': wildcardBundle,
      'services/web/shop.yaml': yaml('fqdn: shop.test.example', 'ssl: true', 'backend:', '  group: app'),
    },
  },
  {
    name: 'a redirect taking every request needs no servers',
    files: {
      'services/web/old.yaml': yaml(
        'vip: 198.18.100.40',
        'redirects:',
        '  - { to: "https://www.test.example/", code: 301 }',
      ),
    },
  },
  {
    name: 'a locked key may be left alone while siblings are set',
    files: {
      'services/defaults.yaml': yaml('backend:', '  balance: leastconn', 'lock: [backend.balance]'),
      ...pg('vip: 198.18.20.10', 'protocol: pgsql', 'backend: { group: db, check: { rise: 3 } }'),
    },
  },
  {
    name: 'one service on two ports of a shared VIP (smtp and imap)',
    files: {
      'services/db/smtp.yaml': yaml('vip: 198.18.20.20', 'protocol: smtp', 'backend: { group: db }'),
      'services/db/imap.yaml': yaml('vip: 198.18.20.20', 'protocol: imap', 'backend: { group: db }'),
    },
  },
  {
    name: "W_STATS_PORTS_EPHEMERAL: stats ports in the kernel's ephemeral range",
    files: { 'site.yaml': `${BASE_SITE['site.yaml']}management: { stats_port_base: 40000 }\n` },
    warnings: [{ code: 'W_STATS_PORTS_EPHEMERAL', file: 'site.yaml', line: 11, column: 32 }],
  },
  {
    name: 'W_SINGLE_SERVER: a backend of one server',
    files: {
      'services/web/one.yaml': yaml(
        'vip: 198.18.100.11',
        'backend:',
        '  servers:',
        '    - { name: a, address: 198.18.10.20 }',
      ),
    },
    warnings: [{ code: 'W_SINGLE_SERVER', file: 'services/web/one.yaml', line: 4, column: 5 }],
  },
  {
    name: 'W_ROUTE_SHADOWED: a narrower prefix after a broader one',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { path_prefix: /v1, backend: { group: db } }',
      '  - { path_prefix: /v1/users, backend: { group: db } }',
    ),
    warnings: [{ code: 'W_ROUTE_SHADOWED', file: WWW, line: 7, column: 5 }],
  },
  {
    name: 'routes in the right order shadow nothing',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { path_prefix: /v1/users, backend: { group: db } }',
      '  - { path_prefix: /v1, backend: { group: db } }',
      '  - { host: api.test.example, backend: { group: db } }',
    ),
  },
  {
    name: 'prefixes match whole segments: /api does not shadow /apis, /v2/ does not shadow /v2',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { path_prefix: /api, backend: { group: db } }',
      '  - { path_prefix: /apis, backend: { group: db } }',
      '  - { path_prefix: /v2/, backend: { group: db } }',
      '  - { path_prefix: /v2, backend: { group: db } }',
    ),
  },
  {
    name: 'W_ROUTE_SHADOWED: /v2/ after /v2 (everything below /v2/ is taken by /v2)',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { path_prefix: /v2, backend: { group: db } }',
      '  - { path_prefix: /v2/, backend: { group: db } }',
    ),
    warnings: [{ code: 'W_ROUTE_SHADOWED', file: WWW, line: 7, column: 5 }],
  },
  {
    name: 'W_CERT_EXPIRY: a bundle in use expiring within 30 days',
    files: {
      'certs/www.pem': wwwBundle,
      ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'ssl: true', 'backend:', '  group: app'),
    },
    now: daysFromNow(350),
    warnings: [{ code: 'W_CERT_EXPIRY', file: 'certs/www.pem', line: 1, column: 1 }],
  },
  {
    name: 'W_CERT_EXPIRY: an expired bundle in use',
    files: {
      'certs/www.pem': wwwBundle,
      ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'ssl: true', 'backend:', '  group: app'),
    },
    now: daysFromNow(400),
    warnings: [{ code: 'W_CERT_EXPIRY', file: 'certs/www.pem', line: 1, column: 1 }],
  },
  {
    name: 'an expiring bundle no service uses is not reported',
    files: { 'certs/www.pem': wwwBundle },
    now: daysFromNow(350),
  },
  {
    name: 'W_DNS_UNCHECKED: the FQDN has no record but the VIP is written',
    files: {},
    resolver: tableResolver({ 'www.test.example': { kind: 'none', source: 'test' } }),
    warnings: [{ code: 'W_DNS_UNCHECKED', file: WWW, line: 1, column: 7 }],
  },
  {
    name: 'W_DNS_UNCHECKED: the lookup failed but the VIP is written',
    files: {},
    resolver: tableResolver({ 'www.test.example': { kind: 'error', error: 'SERVFAIL', source: 'test' } }),
    warnings: [{ code: 'W_DNS_UNCHECKED', file: WWW, line: 1, column: 7 }],
  },
  {
    name: 'an Ansible YAML inventory with nested children',
    files: {
      'inventory.yaml': yaml(
        'all:',
        '  children:',
        '    web:',
        '      children:',
        '        app:',
        '          hosts:',
        '            app1: { ansible_host: 198.18.10.11 }',
        '            198.18.10.12:',
        '    db:',
        '      hosts:',
        '        db1: { ansible_host: 198.18.11.11 }',
        '        db2: { ansible_host: 198.18.11.12, ansible_host6: "2001:db8:11::12" }',
      ),
    },
  },
];

const invalid: InvalidCase[] = [
  // --- load and YAML ---
  {
    name: 'E_YAML_SYNTAX, and the other files are still checked',
    files: {
      [WWW]: yaml('fqdn: [www.test.example', 'vip: 198.18.100.10'),
      [PG]: yaml('vip: 198.18.20.10', 'protocl: pgsql', 'backend:', '  group: db'),
    },
    errors: [
      { code: 'E_YAML_SYNTAX', file: WWW, line: 2, column: 1 },
      { code: 'E_UNKNOWN_KEY', file: PG, line: 2, column: 1, hint: /did you mean `protocol`\?/ },
    ],
  },
  {
    name: 'E_YAML_SYNTAX: a key twice in one map',
    files: www('fqdn: www.test.example', 'fqdn: www2.test.example', 'vip: 198.18.100.10'),
    errors: [{ code: 'E_YAML_SYNTAX', file: WWW, line: 2, column: 1, hint: /once/ }],
  },
  {
    name: 'E_YAML_SYNTAX in a defaults file (its services are not compiled)',
    files: { 'services/web/defaults.yaml': yaml('backend: {') },
    errors: [{ code: 'E_YAML_SYNTAX', file: 'services/web/defaults.yaml', line: 2, column: 1 }],
  },
  {
    name: 'E_YAML_SYNTAX in site.yaml and inventory.yaml at once',
    files: { 'site.yaml': yaml('site: ['), 'inventory.yaml': yaml('groups:', '  app: [') },
    errors: [
      { code: 'E_YAML_SYNTAX', file: 'inventory.yaml', line: 3, column: 1 },
      { code: 'E_YAML_SYNTAX', file: 'site.yaml', line: 2, column: 1 },
    ],
  },
  {
    name: 'E_YAML_SYNTAX: aliases that expand too far are refused, not a crash',
    files: www(
      'a: &a [x, x, x, x]',
      'b: &b [*a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c]',
      'e: [*d, *d, *d, *d]',
    ),
    errors: [{ code: 'E_YAML_SYNTAX', file: WWW, line: 1, column: 1 }],
  },
  {
    name: 'E_MISSING_FILE: no site.yaml',
    files: { 'site.yaml': null },
    errors: [{ code: 'E_MISSING_FILE', file: 'site.yaml', line: 1, column: 1 }],
  },
  {
    name: 'E_FILE: a service that is a symbolic link, and a FIFO (neither is opened)',
    files: { [WWW]: null },
    odd: { [WWW]: 'link', 'services/web/fifo.yaml': 'special' },
    errors: [
      { code: 'E_FILE', file: 'services/web/fifo.yaml', line: 1, column: 1 },
      { code: 'E_FILE', file: WWW, line: 1, column: 1 },
    ],
  },
  {
    name: 'E_FILE: site.yaml as a link is not "missing"; a linked services/ folder is not walked',
    files: { 'site.yaml': null, [WWW]: null, [PG]: null, 'services/defaults.yaml': null },
    odd: { 'site.yaml': 'link', services: 'link' },
    errors: [
      { code: 'E_FILE', file: 'services', line: 1, column: 1 },
      { code: 'E_FILE', file: 'site.yaml', line: 1, column: 1 },
    ],
  },
  {
    name: 'E_LIMIT: collections nested deeper than 64, at the first one too deep',
    files: { [WWW]: yaml(...DEEP) },
    errors: [{ code: 'E_LIMIT', file: WWW, line: 66, column: 65 }],
  },
  {
    name: 'E_DUPLICATE_FILE: www.yml beside www.yaml, inventory.yml beside inventory.yaml',
    files: {
      'services/web/www.yml': yaml('fqdn: www.test.example', 'vip: 198.18.100.99'),
      'inventory.yml': yaml('groups: {}'),
    },
    errors: [
      { code: 'E_DUPLICATE_FILE', file: 'inventory.yml', line: 1, column: 1 },
      { code: 'E_DUPLICATE_FILE', file: 'services/web/www.yml', line: 1, column: 1 },
    ],
  },
  {
    name: 'E_NAME: a service file and a folder outside the name grammar',
    files: {
      'services/web/Shop.yaml': yaml('vip: 198.18.100.40', 'backend: { group: app }'),
      'services/new team/a.yaml': yaml('vip: 198.18.100.41', 'backend: { group: app }'),
    },
    errors: [
      { code: 'E_NAME', file: 'services/new team', line: 1, column: 1 },
      { code: 'E_NAME', file: 'services/web/Shop.yaml', line: 1, column: 1, hint: /a-z/ },
    ],
  },

  // --- schema ---
  {
    name: 'E_UNKNOWN_KEY with a "did you mean" hint',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'ssl_redirct: true',
      'backend:',
      '  group: app',
    ),
    errors: [{ code: 'E_UNKNOWN_KEY', file: WWW, line: 3, column: 1, hint: /did you mean `ssl_redirect`\?/ }],
  },
  {
    name: 'E_UNKNOWN_KEY nested in backend, and E_TYPE for a port by name',
    files: pg(
      'vip: 198.18.20.10',
      'protocol: pgsql',
      'ports: [postgres]',
      'backend:',
      '  group: db',
      '  balanse: x',
    ),
    errors: [
      { code: 'E_TYPE', file: PG, line: 3, column: 9 },
      { code: 'E_UNKNOWN_KEY', file: PG, line: 6, column: 3, hint: /did you mean `balance`\?/ },
    ],
  },
  {
    name: 'E_UNKNOWN_KEY and E_TYPE in site.yaml',
    files: {
      'site.yaml': yaml(
        'site: test',
        'nodes:',
        '  - { name: lb1, adress: 198.18.0.11 }',
        'ha:',
        '  mode: anycst',
      ),
    },
    errors: [
      { code: 'E_TYPE', file: 'site.yaml', line: 3, column: 5 },
      { code: 'E_UNKNOWN_KEY', file: 'site.yaml', line: 3, column: 18, hint: /did you mean `address`\?/ },
      { code: 'E_TYPE', file: 'site.yaml', line: 5, column: 9, hint: /did you mean `anycast`\?/ },
    ],
  },
  {
    name: 'E_TYPE: a string for a boolean, a port out of range',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'ssl: yes-please',
      'backend:',
      '  group: app',
      '  port: 70000',
    ),
    errors: [
      { code: 'E_TYPE', file: WWW, line: 3, column: 6 },
      { code: 'E_TYPE', file: WWW, line: 6, column: 9 },
    ],
  },
  {
    name: 'E_TYPE: a required key of site.yaml is missing',
    files: { 'site.yaml': yaml('nodes:', '  - { name: lb1, address: 198.18.0.11 }') },
    errors: [{ code: 'E_TYPE', file: 'site.yaml', line: 1, column: 1 }],
  },
  {
    name: 'E_TYPE: an unknown protocol',
    files: pg('vip: 198.18.20.10', 'protocol: postgres', 'backend:', '  group: db'),
    errors: [{ code: 'E_TYPE', file: PG, line: 2, column: 11 }],
  },
  {
    name: 'E_ADDRESS: a short form 10.1',
    files: www('fqdn: www.test.example', 'vip: "10.1"', 'backend:', '  group: app'),
    errors: [{ code: 'E_ADDRESS', file: WWW, line: 2, column: 6 }],
  },
  {
    name: 'E_ADDRESS: a leading zero 010.0.0.1',
    files: www('fqdn: www.test.example', 'vip: 010.0.0.1', 'backend:', '  group: app'),
    errors: [{ code: 'E_ADDRESS', file: WWW, line: 2, column: 6 }],
  },
  {
    name: 'E_ADDRESS: three parts 198.18.1',
    files: www('fqdn: www.test.example', 'vip: 198.18.1', 'backend:', '  group: app'),
    errors: [{ code: 'E_ADDRESS', file: WWW, line: 2, column: 6 }],
  },
  {
    name: 'E_ADDRESS: a prefix longer than the family in allow',
    files: pg('vip: 198.18.20.10', 'protocol: pgsql', 'allow: [198.18.0.0/33]', 'backend:', '  group: db'),
    errors: [{ code: 'E_ADDRESS', file: PG, line: 3, column: 9 }],
  },
  {
    name: 'E_ADDRESS in the inventory and in dns.yaml',
    files: {
      'inventory.yaml': yaml('groups:', '  app:', '    hosts: { app1: 198.18.10.11, app2: 010.1.1.1 }'),
      'dns.yaml': yaml('www.test.example: 198.18.100'),
    },
    errors: [
      { code: 'E_ADDRESS', file: 'dns.yaml', line: 1, column: 19 },
      { code: 'E_ADDRESS', file: 'inventory.yaml', line: 3, column: 40 },
    ],
  },
  {
    name: 'one bad dns.yaml entry does not make the other names unknown',
    files: {
      'dns.yaml': yaml(
        'www.test.example: 198.18.100.10',
        'shop.test.example: 198.18.100',
        'multi.test.example: 198.18.100.30',
      ),
      ...www('fqdn: www.test.example', 'backend:', '  group: app'),
    },
    errors: [{ code: 'E_ADDRESS', file: 'dns.yaml', line: 2, column: 20 }],
  },
  {
    name: 'E_ADDRESS: an Ansible host without ansible_host whose name is no address',
    files: {
      'inventory.yaml': yaml(
        'all:',
        '  children:',
        '    db:',
        '      hosts:',
        '        db1: { ansible_host: 198.18.11.11 }',
        '        db2:',
        '        db3: { ansible_host: 198.18.11.13 }',
        '    app:',
        '      hosts: { app1: { ansible_host: 198.18.10.11 }, app2: { ansible_host: 198.18.10.12 } }',
      ),
    },
    errors: [{ code: 'E_ADDRESS', file: 'inventory.yaml', line: 3, column: 5 }],
  },
  {
    name: 'E_VIP_FAMILY: an IPv6 address in vip',
    files: www('fqdn: www.test.example', 'vip: "2001:db8:100::1"', 'backend:', '  group: app'),
    errors: [{ code: 'E_VIP_FAMILY', file: WWW, line: 2, column: 6 }],
  },
  {
    name: 'E_VIP_FAMILY: an IPv4 address in vip6',
    files: www('fqdn: www.test.example', 'vip6: 198.18.100.10', 'backend:', '  group: app'),
    errors: [{ code: 'E_VIP_FAMILY', file: WWW, line: 2, column: 7 }],
  },
  {
    name: 'E_INJECTION: a newline in a check path',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      '  check: { path: "/a\\nb" }',
    ),
    errors: [{ code: 'E_INJECTION', file: WWW, line: 5, column: 18 }],
  },
  {
    name: 'E_INJECTION: a space in a server name',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  servers:',
      '    - { name: "app 1", address: 198.18.10.11 }',
      '    - { name: app2, address: 198.18.10.12 }',
    ),
    errors: [{ code: 'E_INJECTION', file: WWW, line: 5, column: 15 }],
  },
  {
    name: 'E_INJECTION: a # in a cookie name',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      '  cookie: "SRV#1"',
    ),
    errors: [{ code: 'E_INJECTION', file: WWW, line: 5, column: 11 }],
  },
  {
    name: 'E_INJECTION: a space in an inventory host name and a DNS name (reported at the key)',
    files: {
      'inventory.yaml': yaml('groups:', '  app:', '    hosts: { "app 1": 198.18.10.11, app2: 198.18.10.12 }'),
      'dns.yaml': yaml('"www test": 198.18.100.10'),
    },
    errors: [
      { code: 'E_INJECTION', file: 'dns.yaml', line: 1, column: 1 },
      { code: 'E_INJECTION', file: 'inventory.yaml', line: 3, column: 14 },
    ],
  },

  // --- locks ---
  {
    name: 'E_LOCKED_KEY set again in a deeper defaults file and in a service',
    files: {
      'services/defaults.yaml': yaml('backend:', '  balance: leastconn', 'lock: [backend.balance]'),
      'services/web/defaults.yaml': yaml('backend:', '  balance: roundrobin'),
      ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: app', '  balance: source'),
    },
    errors: [
      { code: 'E_LOCKED_KEY', file: 'services/web/defaults.yaml', line: 2, column: 3 },
      { code: 'E_LOCKED_KEY', file: WWW, line: 5, column: 3 },
    ],
  },
  {
    name: 'E_LOCKED_KEY: a key inside a locked map',
    files: {
      'services/defaults.yaml': yaml('backend:', '  check: { interval: 2s }', 'lock: [backend.check]'),
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  group: app',
        '  check:',
        '    path: /h',
      ),
    },
    errors: [{ code: 'E_LOCKED_KEY', file: WWW, line: 5, column: 3 }],
  },
  {
    name: 'E_LOCKED_KEY: a lock in a middle folder binds the folders below it',
    files: {
      'services/web/defaults.yaml': yaml('ssl: false', 'lock: [ssl]'),
      'services/web/shop/defaults.yaml': yaml('ssl: true'),
      'services/web/shop/x.yaml': yaml('fqdn: shop.test.example', 'ssl: false', 'backend:', '  group: app'),
    },
    errors: [
      { code: 'E_LOCKED_KEY', file: 'services/web/shop/defaults.yaml', line: 1, column: 1 },
      { code: 'E_LOCKED_KEY', file: 'services/web/shop/x.yaml', line: 2, column: 1 },
    ],
  },

  {
    name: 'E_LOCKED_KEY: a locked backend key set in a route, at each route that sets it',
    files: {
      'services/defaults.yaml': yaml(
        'backend:',
        '  maxconn: 100',
        '  transparent: false',
        '  timeouts: { server: 30s }',
        'lock: [backend.maxconn, backend.transparent, backend.timeouts]',
      ),
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend: { group: app }',
        'routes:',
        '  - path_prefix: /',
        '    backend: { group: app, maxconn: 100000, transparent: true }',
        '  - path_prefix: /api',
        '    backend:',
        '      group: db',
        '      timeouts: { server: 1d }',
      ),
    },
    errors: [
      { code: 'E_LOCKED_KEY', file: WWW, line: 6, column: 28 },
      { code: 'E_LOCKED_KEY', file: WWW, line: 6, column: 45 },
      { code: 'E_LOCKED_KEY', file: WWW, line: 10, column: 7 },
      { code: 'W_ROUTE_SHADOWED', file: WWW, line: 7, column: 5 },
    ],
  },
  {
    name: "E_LOCKED_KEY: a server's own port and maxconn replace a locked backend.port / backend.maxconn",
    files: {
      'services/defaults.yaml': yaml(
        'backend:',
        '  port: 8080',
        '  maxconn: 50',
        'lock: [backend.port, backend.maxconn]',
      ),
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  servers:',
        '    - { name: a, address: 198.18.10.11, port: 22 }',
        '    - { name: b, address: 198.18.10.12, maxconn: 9999 }',
        'routes:',
        '  - path_prefix: /x',
        '    backend:',
        '      servers: [{ name: c, address: 198.18.10.13, port: 9100 }]',
      ),
    },
    errors: [
      { code: 'E_LOCKED_KEY', file: WWW, line: 5, column: 41 },
      { code: 'E_LOCKED_KEY', file: WWW, line: 6, column: 41 },
      { code: 'E_LOCKED_KEY', file: WWW, line: 10, column: 51 },
      { code: 'W_SINGLE_SERVER', file: WWW, line: 10, column: 16 },
    ],
  },
  {
    name: 'E_LOCKED_KEY: a locked backend.group also fixes backend.servers (and routes)',
    files: {
      'services/web/defaults.yaml': yaml('backend: { group: app }', 'lock: [backend.group]'),
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  servers: [{ name: x, address: 198.18.12.1 }]',
        'routes:',
        '  - { path_prefix: /a, backend: { group: db } }',
      ),
    },
    errors: [
      { code: 'E_LOCKED_KEY', file: WWW, line: 4, column: 3 },
      { code: 'E_LOCKED_KEY', file: WWW, line: 6, column: 35 },
    ],
  },
  {
    name: 'E_LOCKED_KEY: a locked `backend` map forbids route backends too',
    files: {
      'services/defaults.yaml': yaml('backend: { group: app }', 'lock: [backend]'),
      [PG]: null,
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'routes:',
        '  - { path_prefix: /a, backend: { group: db } }',
      ),
    },
    errors: [{ code: 'E_LOCKED_KEY', file: WWW, line: 4, column: 24 }],
  },

  // --- addresses: compared in one spelling (RFC 5952, IPv4-mapped as IPv4) ---
  {
    name: 'E_VIP_CONFLICT: one IPv6 VIP in two spellings',
    files: {
      'services/web/a.yaml': yaml('vip6: "2001:DB8:100:0:0:0:0:10"', 'backend: { group: app }'),
      'services/web/b.yaml': yaml('vip6: "2001:db8:100::10"', 'backend: { group: app }'),
    },
    errors: [{ code: 'E_VIP_CONFLICT', file: 'services/web/b.yaml', line: 1, column: 7 }],
  },
  {
    name: "E_VIP_NODE: a node's IPv6 address in another spelling, a BGP peer, an inventory host, special-use VIPs",
    files: {
      'services/db/a.yaml': yaml(
        'vip6: "2001:0DB8:0:0::0011"',
        'protocol: tcp',
        'ports: [7000]',
        'backend: { group: db }',
      ),
      'services/db/b.yaml': yaml('vip: 0.0.0.0', 'protocol: tcp', 'ports: [7001]', 'backend: { group: db }'),
      'services/db/c.yaml': yaml('vip6: "::1"', 'protocol: tcp', 'ports: [7002]', 'backend: { group: db }'),
      'services/db/e.yaml': yaml(
        'vip: 198.18.0.1',
        'protocol: tcp',
        'ports: [7004]',
        'backend: { group: db }',
      ),
      'services/db/f.yaml': yaml(
        'vip6: "2001:db8:11:0::12"',
        'protocol: tcp',
        'ports: [7005]',
        'backend: { group: app }',
      ),
      'services/db/d.yaml': yaml(
        'vip: 127.0.0.53',
        'protocol: tcp',
        'ports: [7003]',
        'backend: { group: db }',
      ),
    },
    errors: [
      { code: 'E_VIP_NODE', file: 'services/db/a.yaml', line: 1, column: 7 },
      { code: 'E_VIP_NODE', file: 'services/db/b.yaml', line: 1, column: 6 },
      { code: 'E_VIP_NODE', file: 'services/db/c.yaml', line: 1, column: 7 },
      { code: 'E_VIP_NODE', file: 'services/db/d.yaml', line: 1, column: 6 },
      { code: 'E_VIP_NODE', file: 'services/db/e.yaml', line: 1, column: 6 },
      { code: 'E_VIP_NODE', file: 'services/db/f.yaml', line: 1, column: 7 },
    ],
  },
  {
    name: 'IPv4-mapped IPv6 addresses are refused where only IPv6 belongs',
    files: {
      'services/db/a.yaml': yaml(
        'vip6: "::ffff:198.18.20.11"',
        'protocol: tcp',
        'ports: [7000]',
        'backend: { group: db }',
      ),
      'site.yaml': BASE_SITE['site.yaml']!.replace('address6: "2001:db8::11"', 'address6: "::FFFF:c612:b"'),
      'inventory.yaml': yaml(
        'groups:',
        '  app:',
        '    hosts: { app1: 198.18.10.11, app2: { address6: "::ffff:198.18.10.12" } }',
        '  db:',
        '    hosts: { db1: 198.18.11.11, db2: 198.18.11.12 }',
      ),
    },
    errors: [
      { code: 'E_ADDRESS', file: 'inventory.yaml', line: 3, column: 52 },
      { code: 'E_VIP_FAMILY', file: 'services/db/a.yaml', line: 1, column: 7 },
      { code: 'E_ADDRESS', file: 'site.yaml', line: 3, column: 50 },
    ],
  },
  {
    name: 'E_SITE: two nodes on one IPv6 address in two spellings',
    files: {
      'site.yaml': BASE_SITE['site.yaml']!.replace(
        '{ name: lb2, address: 198.18.0.12 }',
        '{ name: lb2, address: 198.18.0.12, address6: "2001:DB8:0::11" }',
      ),
    },
    errors: [{ code: 'E_SITE', file: 'site.yaml', line: 4, column: 50 }],
  },
  {
    name: "E_HEALTH_TIMING: a service's timeout not below its interval",
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend: { group: app, port: 8080 }',
      'health: { interval: 200ms, timeout: 200ms }',
    ),
    errors: [{ code: 'E_HEALTH_TIMING', file: WWW, line: 4, column: 37 }],
  },
  {
    name: 'E_CHECK_COMMAND: an exec check naming a command site.yaml does not list',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend: { group: app, port: 8080 }',
      'health: { exec: dns }',
    ),
    errors: [{ code: 'E_CHECK_COMMAND', file: WWW, line: 4, column: 17, hint: /checks\.commands/ }],
  },

  // --- backend server addresses ---
  {
    name: 'E_BACKEND_ADDRESS: servers at a node, a VIP, loopback, link-local, unspecified, multicast, broadcast',
    files: {
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  servers:',
        '    - { name: ok, address: 198.18.10.11 }',
        '    - { name: node, address: 198.18.0.12 }',
        '    - { name: node6, address: "2001:DB8::11" }',
        '    - { name: vip, address: 198.18.20.10 }',
        '    - { name: self, address: 198.18.100.10 }',
        '    - { name: lo, address: 127.0.0.1 }',
        '    - { name: lo6, address: "::1" }',
        '    - { name: mapped, address: "::ffff:127.0.0.1" }',
        '    - { name: meta, address: 169.254.169.254 }',
        '    - { name: ll6, address: "fe80::1" }',
        '    - { name: any, address: 0.0.0.0 }',
        '    - { name: any6, address: "::" }',
        '    - { name: mc, address: 224.0.0.1 }',
        '    - { name: bc, address: 255.255.255.255 }',
      ),
    },
    // Each at the server's address, every one but `ok`.
    errors: [
      [6, 30],
      [7, 31],
      [8, 29],
      [9, 30],
      [10, 28],
      [11, 29],
      [12, 32],
      [13, 30],
      [14, 29],
      [15, 29],
      [16, 30],
      [17, 28],
      [18, 28],
    ].map(([line, column]) => ({
      code: 'E_BACKEND_ADDRESS' as const,
      file: WWW,
      line: line!,
      column: column!,
    })),
  },
  {
    name: 'E_BACKEND_ADDRESS: an inventory host at loopback, reported where a service uses its group; route servers too',
    files: {
      'inventory.yaml': yaml(
        'groups:',
        '  app:',
        '    hosts: { app1: 198.18.10.11, app2: 127.0.0.1 }',
        '  db:',
        '    hosts: { db1: 198.18.11.11, db2: 198.18.11.12 }',
      ),
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend: { group: db }',
        'routes:',
        '  - path_prefix: /a',
        '    backend: { group: app }',
        '  - path_prefix: /b',
        '    backend: { servers: [{ name: s, address: 198.18.0.11 }, { name: t, address: 198.18.10.20 }] }',
      ),
    },
    errors: [
      { code: 'E_BACKEND_ADDRESS', file: WWW, line: 6, column: 23 },
      { code: 'E_BACKEND_ADDRESS', file: WWW, line: 8, column: 46 },
    ],
  },

  // --- inventory ---
  {
    name: 'E_UNKNOWN_GROUP with a hint',
    files: www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: ap'),
    errors: [{ code: 'E_UNKNOWN_GROUP', file: WWW, line: 4, column: 10, hint: /did you mean `app`\?/ }],
  },
  {
    name: 'E_UNKNOWN_GROUP in a route backend points into the route',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { path_prefix: /a, backend: { group: db } }',
      '  - path_prefix: /b',
      '    backend: { group: nope }',
    ),
    errors: [{ code: 'E_UNKNOWN_GROUP', file: WWW, line: 8, column: 23 }],
  },
  {
    name: 'E_EMPTY_GROUP',
    files: www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: empty'),
    errors: [{ code: 'E_EMPTY_GROUP', file: WWW, line: 4, column: 10 }],
  },
  {
    name: 'an invalid inventory does not make every group unknown',
    files: { 'inventory.yaml': yaml('groups:', '  app:', '    hosts: { app1: 198.18.10.11, app2: "10.1" }') },
    errors: [{ code: 'E_ADDRESS', file: 'inventory.yaml', line: 3, column: 40 }],
  },
  {
    name: 'E_NO_SERVERS: a backend with neither group nor servers',
    files: { 'services/web/x.yaml': yaml('vip: 198.18.100.11', 'backend:', '  port: 8080') },
    errors: [{ code: 'E_NO_SERVERS', file: 'services/web/x.yaml', line: 3, column: 3 }],
  },
  {
    name: 'E_NO_SERVERS: a route does not inherit the service servers',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { path_prefix: /api, backend: { port: 9000 } }',
    ),
    errors: [{ code: 'E_NO_SERVERS', file: WWW, line: 6, column: 35 }],
  },
  {
    name: 'E_BACKUP_ONLY',
    files: {
      'services/web/x.yaml': yaml(
        'vip: 198.18.100.11',
        'backend:',
        '  servers:',
        '    - { name: a, address: 198.18.10.20, backup: true }',
        '    - { name: b, address: 198.18.10.21, backup: true }',
      ),
    },
    errors: [{ code: 'E_BACKUP_ONLY', file: 'services/web/x.yaml', line: 4, column: 5 }],
  },
  {
    name: 'E_DUPLICATE_SERVER: an explicit server named like a group host',
    files: {
      'services/web/x.yaml': yaml(
        'vip: 198.18.100.11',
        'backend:',
        '  group: app',
        '  servers:',
        '    - { name: app1, address: 198.18.10.20 }',
      ),
    },
    errors: [{ code: 'E_DUPLICATE_SERVER', file: 'services/web/x.yaml', line: 5, column: 5 }],
  },
  {
    name: 'E_DUPLICATE_SERVER: two explicit servers with one name',
    files: pg(
      'vip: 198.18.20.10',
      'protocol: pgsql',
      'backend:',
      '  servers:',
      '    - { name: a, address: 198.18.11.11 }',
      '    - { name: a, address: 198.18.11.12 }',
    ),
    errors: [{ code: 'E_DUPLICATE_SERVER', file: PG, line: 5, column: 5 }],
  },

  // --- VIPs, DNS, teams ---
  {
    name: 'E_VIP_CONFLICT: two services on one VIP and port',
    files: { 'services/web/www2.yaml': yaml('vip: 198.18.100.10', 'backend:', '  group: app') },
    errors: [{ code: 'E_VIP_CONFLICT', file: 'services/web/www2.yaml', line: 1, column: 6 }],
  },
  {
    name: 'E_VIP_CONFLICT: the health monitor port',
    files: { 'services/db/x.yaml': yaml('vip: 198.18.20.11', 'ports: [8999]', 'backend:', '  group: db') },
    errors: [{ code: 'E_VIP_CONFLICT', file: 'services/db/x.yaml', line: 2, column: 8 }],
  },
  {
    name: 'E_VIP_NODE: a VIP that is a node address (IPv4 and IPv6)',
    files: {
      ...pg('vip: 198.18.0.12', 'protocol: pgsql', 'backend:', '  group: db'),
      'services/db/x.yaml': yaml('vip6: "2001:db8::11"', 'protocol: pgsql', 'backend:', '  group: db'),
    },
    errors: [
      { code: 'E_VIP_NODE', file: PG, line: 1, column: 6 },
      { code: 'E_VIP_NODE', file: 'services/db/x.yaml', line: 1, column: 7 },
    ],
  },
  {
    name: 'E_FQDN_CONFLICT: two services serve one name on one port',
    files: {
      'services/web/a.yaml': yaml('fqdn: app.test.example', 'vip: 198.18.100.21', 'backend: { group: app }'),
      'services/web/b.yaml': yaml(
        'fqdn: [b.test.example, app.test.example]',
        'vip: 198.18.100.22',
        'backend: { group: app }',
      ),
    },
    errors: [{ code: 'E_FQDN_CONFLICT', file: 'services/web/b.yaml', line: 1, column: 24 }],
  },
  {
    name: 'E_DNS_MISMATCH: the A record disagrees with vip',
    files: www('fqdn: www.test.example', 'vip: 198.18.100.11', 'backend:', '  group: app'),
    errors: [{ code: 'E_DNS_MISMATCH', file: WWW, line: 2, column: 6 }],
  },
  {
    name: 'E_DNS_MISMATCH: the AAAA record disagrees with vip6',
    files: {
      'services/web/shop.yaml': yaml(
        'fqdn: shop.test.example',
        'vip6: "2001:db8:100::21"',
        'backend:',
        '  group: app',
      ),
    },
    errors: [{ code: 'E_DNS_MISMATCH', file: 'services/web/shop.yaml', line: 2, column: 7 }],
  },
  {
    name: 'E_NO_VIP: neither vip, vip6 nor fqdn',
    files: { 'services/web/x.yaml': yaml('backend:', '  group: app') },
    errors: [{ code: 'E_NO_VIP', file: 'services/web/x.yaml', line: 1, column: 1 }],
  },
  {
    name: 'E_NO_VIP: the FQDN has several A records (reported once)',
    files: { 'services/web/x.yaml': yaml('fqdn: multi.test.example', 'backend:', '  group: app') },
    errors: [{ code: 'E_NO_VIP', file: 'services/web/x.yaml', line: 1, column: 7 }],
  },
  {
    name: 'E_DNS_UNRESOLVED: the FQDN is unknown and the resolver is off',
    files: { 'services/web/x.yaml': yaml('fqdn: nowhere.test.example', 'backend:', '  group: app') },
    errors: [{ code: 'E_DNS_UNRESOLVED', file: 'services/web/x.yaml', line: 1, column: 7 }],
  },
  {
    name: 'E_DNS_UNRESOLVED: the resolver has no record',
    files: { 'services/web/x.yaml': yaml('fqdn: gone.test.example', 'backend:', '  group: app') },
    resolver: tableResolver({
      'www.test.example': { kind: 'found', a: ['198.18.100.10'], aaaa: [], source: 'test' },
      'gone.test.example': { kind: 'none', source: 'test' },
    }),
    errors: [{ code: 'E_DNS_UNRESOLVED', file: 'services/web/x.yaml', line: 1, column: 7 }],
  },
  {
    name: "E_VIP_OUTSIDE_POOL: a VIP outside the team's pools",
    files: { 'services/web/x.yaml': yaml('vip: 198.18.200.10', 'backend:', '  group: app') },
    errors: [{ code: 'E_VIP_OUTSIDE_POOL', file: 'services/web/x.yaml', line: 1, column: 6 }],
  },
  {
    name: 'E_VIP_OUTSIDE_POOL: an inferred VIP points at the fqdn',
    files: {
      'dns.yaml': yaml('www.test.example: 198.18.100.10', 'far.test.example: 198.18.201.1'),
      'services/web/x.yaml': yaml('fqdn: far.test.example', 'backend:', '  group: app'),
    },
    errors: [{ code: 'E_VIP_OUTSIDE_POOL', file: 'services/web/x.yaml', line: 1, column: 7 }],
  },
  {
    name: 'E_PORT_NOT_ALLOWED: a port the team may not use',
    files: { 'services/web/x.yaml': yaml('vip: 198.18.100.11', 'ports: [8443]', 'backend:', '  group: app') },
    errors: [{ code: 'E_PORT_NOT_ALLOWED', file: 'services/web/x.yaml', line: 2, column: 8 }],
  },

  // --- TLS ---
  {
    name: 'E_CERT_MISSING: no bundle covers the second FQDN',
    files: {
      'certs/www.pem': wwwBundle,
      ...www(
        'fqdn: [www.test.example, other.test.example]',
        'vip: 198.18.100.10',
        'ssl: true',
        'backend:',
        '  group: app',
      ),
    },
    errors: [{ code: 'E_CERT_MISSING', file: WWW, line: 1, column: 26 }],
  },
  {
    name: 'E_CERT_MISSING: a TLS service without fqdn',
    files: { 'services/web/x.yaml': yaml('vip: 198.18.100.11', 'ssl: true', 'backend:', '  group: app') },
    errors: [{ code: 'E_CERT_MISSING', file: 'services/web/x.yaml', line: 2, column: 6 }],
  },
  {
    name: 'E_CERT_MISSING: a wildcard covers one label only',
    files: {
      'certs/star.pem': wildcardBundle,
      'dns.yaml': yaml('www.test.example: 198.18.100.10', 'a.b.test.example: 198.18.100.50'),
      'services/web/deep.yaml': yaml('fqdn: a.b.test.example', 'ssl: true', 'backend:', '  group: app'),
    },
    errors: [{ code: 'E_CERT_MISSING', file: 'services/web/deep.yaml', line: 1, column: 7 }],
  },
  {
    name: 'E_CERT_INVALID: a bundle without its key, and one that is not PEM',
    files: {
      'certs/www.pem': certOnly(wwwBundle),
      'certs/bad.pem': '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n',
    },
    errors: [
      { code: 'E_CERT_INVALID', file: 'certs/bad.pem', line: 1, column: 1 },
      { code: 'E_CERT_INVALID', file: 'certs/www.pem', line: 1, column: 1 },
    ],
  },

  // --- protocols, routes, the platform ---
  {
    name: 'E_PROTOCOL: tcp has no well-known port',
    files: { 'services/db/x.yaml': yaml('vip: 198.18.20.11', 'protocol: tcp', 'backend:', '  group: db') },
    errors: [{ code: 'E_PROTOCOL', file: 'services/db/x.yaml', line: 2, column: 11 }],
  },
  {
    name: 'E_PROTOCOL: routes and cookie persistence on a TCP-mode service',
    files: {
      'services/db/ldap.yaml': yaml(
        'vip: 198.18.20.11',
        'protocol: ldap',
        'routes:',
        '  - { path_prefix: /x, backend: { group: db } }',
        'backend:',
        '  group: db',
        '  sticky: cookie',
      ),
    },
    errors: [
      { code: 'E_PROTOCOL', file: 'services/db/ldap.yaml', line: 4, column: 3 },
      { code: 'E_PROTOCOL', file: 'services/db/ldap.yaml', line: 7, column: 11 },
    ],
  },
  {
    name: 'E_ROUTE: a route without condition',
    files: www(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend:',
      '  group: app',
      'routes:',
      '  - { backend: { group: db } }',
    ),
    errors: [{ code: 'E_ROUTE', file: WWW, line: 6, column: 5 }],
  },
  {
    name: 'E_SITE: two nodes share an address; anycast without bgp',
    files: {
      'site.yaml': yaml(
        'site: test',
        'nodes:',
        '  - { name: lb1, address: 198.18.0.11 }',
        '  - { name: lb2, address: 198.18.0.11 }',
        'ha:',
        '  mode: anycast',
      ),
    },
    errors: [
      { code: 'E_SITE', file: 'site.yaml', line: 4, column: 27 },
      { code: 'E_SITE', file: 'site.yaml', line: 6, column: 9 },
    ],
  },
  {
    name: 'E_NAME_CONFLICT: web/shop and web-shop would share an instance name',
    files: {
      'services/web/shop.yaml': yaml('vip: 198.18.100.40', 'backend: { group: app }'),
      'services/web-shop.yaml': yaml('vip: 198.18.100.41', 'backend: { group: app }'),
    },
    errors: [{ code: 'E_NAME_CONFLICT', file: 'services/web/shop.yaml', line: 1, column: 1 }],
  },
  {
    name: 'E_NAME_CONFLICT: BGP peers rr-1 and rr_1, teams web-x and web_x would be one BIRD name',
    files: {
      'site.yaml': withFiles(BASE_SITE)['site.yaml']!.replace(
        'peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }]',
        'peers: [{ name: rr-1, address: 198.18.0.1, as: 65000 }, { name: rr_1, address: 198.18.0.2, as: 65000 }]',
      ),
    },
    errors: [{ code: 'E_NAME_CONFLICT', file: 'site.yaml', line: 7, column: 91 }],
  },
  {
    name: 'E_NAME: node, peer, team and site names outside the grammar (at the value or key)',
    files: {
      'site.yaml': yaml(
        'site: Test',
        'nodes:',
        '  - { name: lb1., address: 198.18.0.11 }',
        'ha:',
        '  mode: anycast',
        '  bgp: { local_as: 65001, peers: [{ name: rr1-is-a-very-long-name-for-a-peer, address: 198.18.0.1, as: 65000 }] }',
        'tls: { policy: intermediate, certs: certs }',
        'teams:',
        '  Web: { path: web, vip_pools: [198.18.100.0/24], ports: [80, 443] }',
      ),
    },
    errors: [
      { code: 'E_NAME', file: 'site.yaml', line: 1, column: 7 },
      { code: 'E_NAME', file: 'site.yaml', line: 3, column: 13 },
      { code: 'E_NAME', file: 'site.yaml', line: 6, column: 43 },
      { code: 'E_NAME', file: 'site.yaml', line: 9, column: 3 },
    ],
  },
  {
    name: 'E_NAME: inventory group and host names, a server name',
    files: {
      'inventory.yaml': yaml(
        'groups:',
        '  App:',
        '    hosts: { app1: 198.18.10.11 }',
        '  db:',
        '    hosts: { app_1.: 198.18.11.11 }',
      ),
      ...www(
        'fqdn: www.test.example',
        'vip: 198.18.100.10',
        'backend:',
        '  servers:',
        '    - { name: -app1, address: 198.18.10.11 }',
        '    - { name: app2, address: 198.18.10.12 }',
      ),
    },
    errors: [
      { code: 'E_NAME', file: 'inventory.yaml', line: 2, column: 3 },
      { code: 'E_NAME', file: 'inventory.yaml', line: 5, column: 14 },
      { code: 'E_NAME', file: WWW, line: 5, column: 15 },
    ],
  },
  {
    name: 'E_SITE: more instances than VRRP router ids above the base',
    files: {
      'site.yaml': yaml(
        'site: test',
        'nodes:',
        '  - { name: lb1, address: 198.18.0.11 }',
        '  - { name: lb2, address: 198.18.0.12 }',
        'ha: { mode: vrrp, vrrp: { interface: eth0, router_id_base: 255 } }',
        'tls: { policy: intermediate, certs: certs }',
      ),
    },
    errors: [{ code: 'E_SITE', file: 'site.yaml', line: 5, column: 60 }],
  },
  {
    name: 'E_SITE: unicast VRRP with one node (keepalived rejects a unicast block without peers)',
    files: {
      'site.yaml': yaml(
        'site: test',
        'nodes:',
        '  - { name: lb1, address: 198.18.0.11 }',
        'ha: { mode: vrrp, vrrp: { interface: eth0, router_id_base: 50 } }',
        'tls: { policy: intermediate, certs: certs }',
      ),
    },
    errors: [{ code: 'E_SITE', file: 'site.yaml', line: 2, column: 1 }],
  },
  {
    name: 'E_TYPE: a BGP community beyond 16 bits',
    files: {
      'site.yaml': yaml(
        'site: test',
        'nodes:',
        '  - { name: lb1, address: 198.18.0.11 }',
        'ha:',
        '  mode: anycast',
        '  bgp: { local_as: 65001, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }], communities: ["65000:70000"] }',
      ),
    },
    errors: [{ code: 'E_TYPE', file: 'site.yaml', line: 6, column: 97 }],
  },
  {
    name: 'E_SITE: vrrp without its settings',
    files: {
      'site.yaml': yaml(
        'site: test',
        'nodes:',
        '  - { name: lb1, address: 198.18.0.11 }',
        'ha: { mode: vrrp }',
      ),
    },
    errors: [{ code: 'E_SITE', file: 'site.yaml', line: 4, column: 13 }],
  },
];

function key(e: Position): string {
  return `${e.file}:${e.line}:${e.column} ${e.code}`;
}

type Position = { code: string; file: string; line: number; column: number };

/** The order `intentlb check` prints in: file, line, column, code. */
function byPosition<T extends Position>(ds: readonly T[]): T[] {
  return [...ds].sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code),
  );
}

function expectedOrder(es: readonly Expected[]): string[] {
  return byPosition(es).map(key);
}

async function run(c: Case) {
  return compileFiles(withFiles(BASE_SITE, c.files), {
    ...(c.odd && { odd: c.odd }),
    ...(c.now && { now: c.now }),
    ...(c.resolver && { resolver: c.resolver }),
  });
}

function assertHints(actual: readonly Diagnostic[], expected: readonly Expected[]): void {
  for (const e of expected) {
    if (!e.hint) continue;
    const d = actual.find((x) => key(x) === key(e));
    assert.ok(d, `no ${key(e)}`);
    assert.match(d.hint ?? '', e.hint, `hint of ${key(e)}`);
  }
}

describe('check: valid sites', () => {
  for (const c of valid) {
    it(c.name, async () => {
      const r = await run(c);
      assert.deepEqual(byPosition(r.all).map(key), expectedOrder(c.warnings ?? []));
      assert.ok(r.model, 'a valid site yields a model');
      assertHints(r.all, c.warnings ?? []);
    });
  }
});

describe('check: invalid sites', () => {
  for (const c of invalid) {
    it(c.name, async () => {
      const r = await run(c);
      assert.deepEqual(byPosition(r.all).map(key), expectedOrder(c.errors));
      assert.equal(r.model, undefined, 'no model while an error stands');
      assertHints(r.all, c.errors);
    });
  }
});

describe('check: more HAProxy instances than stats ports', () => {
  it('is E_SITE at `instances`, and check ends (probing for a free port would not)', async () => {
    const files: Record<string, string> = { ...BASE_SITE };
    for (let i = 0; i < 10_001; i++) {
      files[`services/many/s${i}.yaml`] = yaml(
        `vip: 198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`,
        'protocol: tcp',
        'ports: [5000]',
        'backend: { group: app }',
      );
    }
    const r = await compileFiles(files);
    const site = r.all.filter((d) => d.code === 'E_SITE');
    assert.equal(site.length, 1, site.map((d) => d.message).join('\n'));
    assert.match(site[0]!.message, /10003 HAProxy instances need 10003 stats ports/);
    assert.equal(r.model, undefined);
  });
});

describe('check: coverage', () => {
  it('every diagnostic code has a case', () => {
    const covered = new Set<string>([
      ...invalid.flatMap((c) => c.errors.map((e) => e.code)),
      ...valid.flatMap((c) => (c.warnings ?? []).map((e) => e.code)),
    ]);
    const missing = Object.keys(CODES).filter((c) => !covered.has(c));
    assert.deepEqual(missing, [], `codes without a case: ${missing.join(', ')}`);
  });

  it('every error code has an invalid case', () => {
    const covered = new Set(invalid.flatMap((c) => c.errors.map((e) => e.code)));
    const errors = Object.entries(CODES)
      .filter(([, v]) => v.severity === 'error')
      .map(([k]) => k);
    assert.deepEqual(
      errors.filter((c) => !covered.has(c as Code)),
      [],
    );
  });

  it('warnings alone never stop the model', async () => {
    for (const c of valid.filter((v) => (v.warnings ?? []).length > 0)) {
      const r = await run(c);
      assert.ok(r.all.every((d) => d.severity === 'warning'));
      assert.ok(r.model, c.name);
    }
  });
});

describe('check: locks', () => {
  it('E_LOCKED_KEY in a route points back at the lock entry', async () => {
    const r = await run({
      name: 'lock related',
      files: {
        'services/defaults.yaml': yaml('backend:', '  balance: roundrobin', 'lock: [ssl, backend.balance]'),
        ...www(
          'fqdn: www.test.example',
          'vip: 198.18.100.10',
          'backend: { group: app }',
          'routes:',
          '  - { path_prefix: /a, backend: { group: db, balance: source } }',
        ),
      },
    });
    const d = r.all.filter((x) => x.code === 'E_LOCKED_KEY');
    assert.equal(d.length, 1);
    assert.deepEqual(
      d[0]!.related?.map((x) => `${x.file}:${x.line}:${x.column}`),
      ['services/defaults.yaml:3:13'],
    );
  });

  it('a route writing part of a map keeps the locked keys beside it (routes merge like a deeper layer)', async () => {
    const r = await run({
      name: 'route merge',
      files: {
        'services/defaults.yaml': yaml(
          'backend:',
          '  check: { interval: 7s, rise: 4 }',
          'lock: [backend.check.interval]',
        ),
        ...www(
          'fqdn: www.test.example',
          'vip: 198.18.100.10',
          'backend: { group: app }',
          'routes:',
          '  - { path_prefix: /a, backend: { group: db, check: { path: /h } } }',
        ),
      },
    });
    assert.deepEqual(r.all, []);
    const check = r.services.find((s) => s.id === 'web/www')!.routes[0]!.backend.check;
    assert.equal(check.intervalMs, 7000);
    assert.equal(check.rise, 4);
    assert.equal(check.path, '/h');
  });
});

describe('check: addresses in one spelling', () => {
  it('the model holds RFC 5952 IPv6 and IPv4 for IPv4-mapped; DNS, pools and instances compare them', async () => {
    const r = await run({
      name: 'canonical',
      files: {
        'services/web/a.yaml': yaml(
          'fqdn: shop.test.example',
          'vip: "::ffff:198.18.100.20"',
          'vip6: "2001:DB8:100:0:0:0:0:20"',
          'allow: ["2001:DB8:0:0::/32", "::ffff:198.18.0.0/111"]',
          'backend:',
          '  servers:',
          '    - { name: m, address: "::FFFF:198.18.10.11" }',
          '    - { name: n, address: "2001:DB8:10:0::1" }',
        ),
        'services/web/b.yaml': yaml(
          'vip6: "2001:db8:100::20"',
          'protocol: tcp',
          'ports: [443]',
          'backend: { group: app }',
        ),
      },
    });
    assert.deepEqual(r.all, []);
    const a = r.services.find((s) => s.id === 'web/a')!;
    assert.equal(a.vip, '198.18.100.20');
    assert.equal(a.vip6, '2001:db8:100::20');
    assert.deepEqual(a.allow, ['2001:db8::/32', '198.18.0.0/15']);
    assert.deepEqual(
      a.backend.servers.map((s) => s.address),
      ['198.18.10.11', '2001:db8:10::1'],
    );
    const inst = r.model!.instances.filter((i) => i.services.includes('web/a'));
    assert.deepEqual(
      inst.map((i) => i.services),
      [['web/a', 'web/b']],
    );
    assert.deepEqual(inst[0]!.addresses, ['198.18.100.20', '2001:db8:100::20']);
  });

  it('site addresses and inventory hosts are canonical in the model', async () => {
    const r = await run({
      name: 'site canonical',
      files: {
        'site.yaml': BASE_SITE['site.yaml']!.replace(
          'address6: "2001:db8::11"',
          'address6: "2001:0DB8::0011"',
        ),
        'inventory.yaml': yaml(
          'groups:',
          '  app:',
          '    hosts: { app1: "::ffff:198.18.10.11", app2: { address: 198.18.10.12, address6: "2001:DB8:10::12" } }',
          '  db:',
          '    hosts: { db1: 198.18.11.11, db2: 198.18.11.12 }',
        ),
      },
    });
    assert.deepEqual(r.all, []);
    assert.equal(r.model!.site.nodes[0]!.address6, '2001:db8::11');
    assert.deepEqual(
      r.services.find((s) => s.id === 'web/www')!.backend.servers.map((s) => s.address),
      ['198.18.10.11', '198.18.10.12'],
    );
  });
});

describe('check: inventories', () => {
  it('an Ansible inventory group includes the hosts of its children', async () => {
    const ansible = valid.find((c) => c.name.startsWith('an Ansible'))!;
    const r = await run({
      ...ansible,
      files: {
        ...ansible.files,
        ...www('fqdn: www.test.example', 'vip: 198.18.100.10', 'backend:', '  group: web', '  port: 8080'),
      },
    });
    assert.deepEqual(r.all, []);
    const svc = r.services.find((s) => s.id === 'web/www')!;
    assert.deepEqual(
      svc.backend.servers.map((s) => `${s.name}=${s.address}:${s.port}`),
      ['198.18.10.12=198.18.10.12:8080', 'app1=198.18.10.11:8080'],
    );
    const db = r.services.find((s) => s.id === 'db/pg')!;
    assert.deepEqual(
      db.backend.servers.map((s) => `${s.name}=${s.address}`),
      ['db1=198.18.11.11', 'db2=198.18.11.12'],
    );
  });

  it('an Ansible group mentioned under several parents is the union of its mentions', async () => {
    const r = await run({
      name: 'ansible merge',
      files: {
        'inventory.yaml': yaml(
          'all:',
          '  children:',
          '    prod:',
          '      children:',
          '        app:',
          '          hosts:',
          '            app1: { ansible_host: 198.18.10.11 }',
          '            app2:',
          '    dc1:',
          '      children:',
          '        app:',
          '          hosts:',
          '            app2: { ansible_host: 198.18.10.12 }',
          '        db:',
          '          hosts: { db1: { ansible_host: 198.18.11.11 }, db2: { ansible_host: 198.18.11.12 } }',
          '    dc2:',
          '      children:',
          '        app:',
        ),
        'services/web/prod.yaml': yaml('vip: 198.18.100.50', 'backend: { group: prod }'),
        'services/web/dc1.yaml': yaml('vip: 198.18.100.51', 'backend: { group: dc1 }'),
      },
    });
    assert.deepEqual(r.all, []);
    const servers = (id: string) =>
      r.services.find((s) => s.id === id)!.backend.servers.map((s) => `${s.name}=${s.address}`);
    assert.deepEqual(servers('web/www'), ['app1=198.18.10.11', 'app2=198.18.10.12']);
    assert.deepEqual(servers('web/prod'), ['app1=198.18.10.11', 'app2=198.18.10.12']);
    assert.deepEqual(servers('web/dc1'), [
      'app1=198.18.10.11',
      'app2=198.18.10.12',
      'db1=198.18.11.11',
      'db2=198.18.11.12',
    ]);
  });

  it('our own inventory: a host written as a map keeps both families; IPv6-only hosts serve too', async () => {
    const r = await run({
      name: 'v6 host',
      files: {
        'inventory.yaml': yaml(
          'groups:',
          '  app:',
          '    hosts: { app1: "2001:db8:10::11", app2: { address: 198.18.10.12, address6: "2001:db8:10::12" } }',
          '  db:',
          '    hosts: { db1: 198.18.11.11, db2: 198.18.11.12 }',
        ),
      },
    });
    assert.deepEqual(r.all, []);
    const svc = r.services.find((s) => s.id === 'web/www')!;
    assert.deepEqual(
      svc.backend.servers.map((s) => `${s.name}=${s.address}`),
      ['app1=2001:db8:10::11', 'app2=198.18.10.12'],
    );
  });
});

describe('check: the campus example', () => {
  it('is clean: no errors, no warnings', async () => {
    const root = fileURLToPath(new URL('../../examples/campus', import.meta.url));
    const l = load(diskFs(root));
    const c = await compile(l.value, { now: new Date() });
    assert.deepEqual([...l.diagnostics, ...c.diagnostics], []);
    assert.ok(c.model);
    assert.equal(c.model.services.length, l.value.services.length);
  });
});
