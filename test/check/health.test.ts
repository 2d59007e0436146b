import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHealthdConfig } from '../../src/healthd/config.ts';
import { renderHealthd } from '../../src/render/healthd/config.ts';
import { DEFAULT_LAYOUT } from '../../src/render/types.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { certBundle } from '../helpers/certs.ts';
import { compileFiles, type FileOverrides, where, withFiles, yaml } from '../helpers/site.ts';

// `health` (healthd's timing, exec checks) and `ha.mode: script`: table cases with codes and
// positions, and what healthd.yaml then holds.

/** site.yaml of BASE_SITE in script mode, with `extra` lines after `ha`. */
const scriptSite = (...extra: string[]): string =>
  yaml(
    'site: test',
    'nodes:',
    '  - { name: lb1, address: 198.18.0.11, address6: "2001:db8::11" }',
    '  - { name: lb2, address: 198.18.0.12 }',
    'ha:',
    '  mode: script',
    '  script: { name: ipaddr, timeout: 5s }',
    'tls: { policy: intermediate, certs: certs }',
    'teams:',
    '  web: { path: web, vip_pools: [198.18.100.0/24, "2001:db8:100::/64"], ports: [80, 443] }',
    ...extra,
  );
const COMMANDS = [
  'checks:',
  '  commands:',
  '    dns: { path: /usr/lib/nagios/plugins/check_dns, args: [-t, "1"], args_allowed: true }',
  '    ping: { path: /usr/lib/nagios/plugins/check_ping }',
];
const www = (...lines: string[]): FileOverrides => ({
  'services/web/www.yaml': yaml(
    'fqdn: www.test.example',
    'vip: 198.18.100.10',
    'backend: { group: app, port: 8080 }',
    ...lines,
  ),
});
const files = (over: FileOverrides) =>
  withFiles({ ...BASE_SITE, 'certs/www.pem': certBundle(['www.test.example']) }, over);

const cases: { name: string; files: FileOverrides; errors: ReturnType<typeof where>[] }[] = [
  {
    name: 'E_SITE: ha.mode script without ha.script',
    files: { 'site.yaml': scriptSite().replace('  script: { name: ipaddr, timeout: 5s }\n', '') },
    errors: [{ code: 'E_SITE', file: 'site.yaml', line: 6, column: 9 }],
  },
  {
    name: 'E_TYPE: a failover script is a name, never a path',
    files: { 'site.yaml': scriptSite().replace('name: ipaddr', 'name: ../bin/sh') },
    errors: [{ code: 'E_TYPE', file: 'site.yaml', line: 7, column: 19 }],
  },
  {
    name: 'E_HEALTH_TIMING: site interval below 100 ms, timeout not below interval',
    files: { 'site.yaml': scriptSite('health: { interval: 50ms, timeout: 50ms, hold_down: 2h }') },
    errors: [
      { code: 'E_HEALTH_TIMING', file: 'site.yaml', line: 11, column: 21 },
      { code: 'E_HEALTH_TIMING', file: 'site.yaml', line: 11, column: 36 },
      { code: 'E_HEALTH_TIMING', file: 'site.yaml', line: 11, column: 53 },
    ],
  },
  {
    name: "E_HEALTH_TIMING: a service's interval at or below the site's timeout",
    files: { ...www('health: { interval: 400ms }') },
    errors: [{ code: 'E_HEALTH_TIMING', file: 'services/web/www.yaml', line: 4, column: 21 }],
  },
  {
    name: 'E_CHECK_COMMAND: an exec check naming no platform command (with a hint), args not allowed, args alone',
    files: {
      'site.yaml': scriptSite(...COMMANDS),
      ...www('health: { exec: dnss }'),
      'services/web/ping.yaml': yaml(
        'vip: 198.18.100.11',
        'backend: { group: app, port: 8080 }',
        'health: { exec: ping, args: [-H, 198.18.10.11] }',
      ),
      'services/web/alone.yaml': yaml(
        'vip: 198.18.100.12',
        'backend: { group: app, port: 8080 }',
        'health: { args: [-H, x] }',
      ),
    },
    errors: [
      { code: 'E_CHECK_COMMAND', file: 'services/web/alone.yaml', line: 3, column: 17 },
      { code: 'E_CHECK_COMMAND', file: 'services/web/ping.yaml', line: 3, column: 29 },
      { code: 'E_CHECK_COMMAND', file: 'services/web/www.yaml', line: 4, column: 17 },
    ],
  },
  {
    name: 'E_INJECTION: a check argument with a line break; a command path that is relative',
    files: {
      'site.yaml': scriptSite(...COMMANDS).replace('/usr/lib/nagios/plugins/check_ping', 'check_ping'),
      ...www('health: { exec: dns, args: ["a\\nb"] }'),
    },
    errors: [
      { code: 'E_TYPE', file: 'site.yaml', line: 14, column: 19 },
      { code: 'E_INJECTION', file: 'services/web/www.yaml', line: 4, column: 29 },
    ],
  },
];

const byPosition = (a: ReturnType<typeof where>, b: ReturnType<typeof where>) =>
  a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;

describe('check: health timing, exec checks, script failover', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await compileFiles(files(c.files));
      assert.deepEqual(r.all.map(where).sort(byPosition), [...c.errors].sort(byPosition));
      assert.equal(r.model, undefined);
    });
  }

  it('a script site with exec checks compiles; healthd.yaml holds the script, the peers, the argv, and parses', async () => {
    const r = await compileFiles(
      files({
        'site.yaml': scriptSite(...COMMANDS, 'health: { interval: 200ms, timeout: 150ms, rise: 2, fall: 2 }'),
        ...www('health: { exec: dns, args: [-H, www.test.example], hold_down: 3s }'),
      }),
    );
    assert.deepEqual(r.all.filter((d) => d.severity === 'error').map(where), []);
    const model = r.model!;
    const [lb1, lb2] = model.site.nodes;
    const text = renderHealthd(model, lb2!, DEFAULT_LAYOUT)[0]!.content;
    const parsed = parseHealthdConfig(text, '/etc/intentlb/healthd.yaml');
    assert.deepEqual(parsed.diagnostics, []);
    const config = parsed.config!;
    assert.equal(config.mode, 'script');
    assert.deepEqual(config.hooks.onUp, [['/etc/intentlb/failover.d/ipaddr', 'promote']]);
    assert.deepEqual(config.hooks.onDown, [['/etc/intentlb/failover.d/ipaddr', 'demote']]);
    assert.equal(config.hooks.timeoutMs, 5000);
    assert.equal(config.hooks.env?.INTENTLB_NODE, 'lb2');
    assert.deepEqual(config.peers?.nodes, [{ name: 'lb1', address: '198.18.0.11', port: 9300 }]);
    const vip = config.vips.find((v) => v.name === 'web-www')!;
    assert.deepEqual(
      [vip.intervalMs, vip.timeoutMs, vip.rise, vip.fall, vip.holdDownMs],
      [200, 150, 2, 2, 3000],
    );
    assert.deepEqual(vip.exec, [
      { name: 'dns', argv: ['/usr/lib/nagios/plugins/check_dns', '-t', '1', '-H', 'www.test.example'] },
    ]);
    // A floating VIP: the node probes its own instance on its own address.
    assert.equal(vip.check.address, '198.18.0.12');
    // The preferred node stands by for nobody.
    const first = parseHealthdConfig(renderHealthd(model, lb1!, DEFAULT_LAYOUT)[0]!.content, '/x.yaml')
      .config!;
    assert.deepEqual(first.peers?.nodes, []);
  });
});
