import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateIcinga } from '../../src/build/validate-tools.ts';
import { HealthdMetrics } from '../../src/healthd/metrics.ts';
import type { HealthdState } from '../../src/healthd/types.ts';
import type { Model } from '../../src/model/index.ts';
import { macroText, renderIcinga2, renderIcingaSite } from '../../src/render/icinga2/index.ts';
import { campus, renderOne } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { itlCommandLine } from '../helpers/itl.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

const REV = '0123456789abcdef';

function site(model: Model): Record<string, string> {
  return Object.fromEntries(renderIcingaSite(model, REV).map((f) => [f.path, f.content]));
}

function hosts(model: Model): string {
  return site(model)['icinga2/hosts.conf']!;
}

async function assertIcingaAccepts(files: Record<string, string>): Promise<void> {
  requireTool('icinga2');
  await withTempDir(async (dir) => {
    const paths = Object.entries(files).map(([p, content], i) => {
      const file = join(dir, `${i}-${p.split('/').pop()}`);
      writeFileSync(file, content);
      return file;
    });
    const r = await validateIcinga(paths);
    assert.ok(r.ok, `icinga2 daemon -C rejected the configuration:\n${r.output}`);
  });
}

/** The body of `object <type> "<name>"` (host_name too for services), up to its closing brace. */
function object(text: string, type: 'Host' | 'Service', name: string, host?: string): string {
  const bodies = [...text.matchAll(/^object (\w+) "([^"]*)" \{\n([\s\S]*?)\n\}$/gm)]
    .filter((m) => m[1] === type && m[2] === name)
    .map((m) => m[3]!)
    .filter((b) => host === undefined || b.includes(`host_name = "${host}"`));
  assert.equal(bodies.length, 1, `one ${type} ${name}${host ? ` on ${host}` : ''}`);
  return bodies[0]!;
}

/** A service's variables as the values Icinga holds (only the literal kinds the renderer writes). */
function vars(body: string): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const m of body.matchAll(/^ {2}vars\.([a-z0-9_]+) = (.+)$/gm)) {
    const raw = m[2]!;
    out[m[1]!] =
      raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : /^\d+$/.test(raw)
            ? Number(raw)
            : (JSON.parse(raw) as string);
  }
  return out;
}

function run(argv: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, out: `${stdout}${stderr}` });
    });
  });
}

describe('Icinga 2: the site for the master', () => {
  it('renders examples/campus as the golden files', async () => {
    const files = site(await campus());
    assert.deepEqual(Object.keys(files), [
      'icinga2/zones.conf',
      'icinga2/commands.conf',
      'icinga2/hosts.conf',
    ]);
    for (const [p, content] of Object.entries(files))
      assertGolden(`test/render/golden/icinga2/site/${p.slice(8)}`, content);
  });

  it('is accepted by icinga2 daemon -C as a master loads it (zones, commands, hosts together)', async () => {
    await assertIcingaAccepts(site(await campus()));
  });

  it('is deterministic', async () => {
    assert.deepEqual(site(await campus()), site(await campus()));
  });

  it('has one Endpoint, Zone and Host per LB node and every object once', async () => {
    const model = await campus();
    const text = Object.values(site(model)).join('\n');
    for (const type of ['Endpoint', 'Zone']) {
      const names = [...text.matchAll(new RegExp(`^object ${type} "([^"]+)"`, 'gm'))].map((m) => m[1]);
      assert.deepEqual(names, ['lb1', 'lb2']);
    }
    assert.match(text, /^object Zone "lb1" \{\n {2}endpoints = \[ "lb1" \]\n {2}parent = ZoneName\n\}/m);
    const objects = [...text.matchAll(/^object (\w+) "([^"]+)" \{\n(?: {2}host_name = "([^"]+)")?/gm)].map(
      (m) => `${m[1]} ${m[3] ?? ''}!${m[2]}`,
    );
    assert.equal(new Set(objects).size, objects.length, 'an object defined twice');
  });

  it('checks each LB node: instances, BGP and revision on its agent, healthd and each VIP from the master', async () => {
    const text = hosts(await campus());
    const bgp = object(text, 'Service', 'bgp', 'lb2');
    assert.match(bgp, /check_command = "intentlb-node"\n {2}command_endpoint = host\.name/);
    assert.deepEqual(vars(object(text, 'Service', 'revision', 'lb1')), {
      intentlb_check: 'revision',
      intentlb_revision: REV,
    });
    assert.deepEqual(vars(object(text, 'Service', 'healthd:web-typo3-www', 'lb1')), {
      http_address: '198.18.0.11',
      http_port: 9300,
      http_uri: '/metrics',
      http_string: 'intentlb_healthd_vip_state{vip="web-typo3-www",state="up"} 1',
    });
  });

  it('leaves BGP out where the site does not run it', async () => {
    const model = await campus();
    model.site.ha.mode = 'vrrp';
    const text = hosts(model);
    assert.doesNotMatch(text, /^object Service "bgp"/m);
    assert.match(object(text, 'Service', 'instances', 'lb1'), /intentlb_check = "instances"/);
  });

  it('checks each frontend in its protocol with the monitoring-plugins', async () => {
    const text = hosts(await campus());
    const expect: [service: string, check: string, command: string][] = [
      ['vip:web/typo3/www', 'http-443', 'http'],
      ['vip:it/mail/smtp', 'smtp-25', 'smtp'],
      ['vip:it/mail/imaps', 'imap-993', 'imap'],
      ['vip:it/ldap', 'ldap-389', 'ldap'],
      ['vip:research/mysql', 'mysql-3306', 'mysql'],
      ['vip:library/pg', 'pgsql-5432', 'pgsql'],
      ['vip:research/redis', 'tcp-6379', 'tcp'],
    ];
    for (const [host, check, command] of expect) {
      assert.match(object(text, 'Service', check, host), new RegExp(`check_command = "${command}"`), check);
    }
    assert.deepEqual(vars(object(text, 'Service', 'imap-993', 'vip:it/mail/imaps')), {
      imap_address: '198.18.101.25',
      imap_port: 993,
      imap_ssl: true,
      notification_contacts: vars(object(text, 'Service', 'imap-993', 'vip:it/mail/imaps'))
        .notification_contacts!,
    });
    assert.equal(vars(object(text, 'Service', 'mysql-3306', 'vip:research/mysql')).mysql_ignore_auth, true);
    assert.equal(vars(object(text, 'Service', 'ldap-389', 'vip:it/ldap')).ldap_v3, true);
    const v6 = object(text, 'Service', 'http-443-v6', 'vip:web/typo3/www');
    assert.match(v6, /vars\.http_address = "2001:db8:100::10"/);
  });

  it('checks the certificate of each TLS port per FQDN with SNI, and of TCP TLS ports', async () => {
    const text = hosts(await campus());
    const www = vars(object(text, 'Service', 'cert-443-campus.example', 'vip:web/typo3/www'));
    assert.equal(www.http_certificate, '30,14');
    assert.equal(www.http_sni, true);
    assert.equal(www.http_vhost, 'campus.example');
    assert.equal(vars(object(text, 'Service', 'cert-993', 'vip:it/mail/imaps')).tcp_certificate, '30,14');
  });

  it('adds one host per backend server and a check per port it serves', async () => {
    const text = hosts(await campus());
    const web1 = object(text, 'Host', 'server:web1@198.18.10.11');
    assert.match(
      web1,
      /vars\.intentlb_backends = \[ "be_web-intranet", "be_web-typo3-events", "be_web-typo3-www" \]/,
    );
    assert.match(object(text, 'Service', 'http-8081', 'server:web1@198.18.10.11'), /vars\.http_port = 8081/);
    assert.match(object(text, 'Service', 'tcp-389', 'server:ldap1@198.18.11.31'), /check_command = "tcp"/);
  });

  it('leaves out services without monitoring.icinga, and their servers', async () => {
    const model = await campus();
    for (const s of model.services) if (s.id !== 'it/api') s.monitoring.icinga = false;
    const text = hosts(model);
    const names = [...text.matchAll(/^object Host "([^"]+)"/gm)].map((m) => m[1]);
    assert.deepEqual(names, [
      'lb1',
      'lb2',
      'vip:it/api',
      'server:api1@198.18.12.11',
      'server:api2@198.18.12.12',
    ]);
    await assertIcingaAccepts(site(model));
  });

  it('escapes quotes and macro dollars', async () => {
    assert.equal(macroText('/a$b$'), '/a$$b$$');
    const model = await campus();
    const api = model.services.find((s) => s.id === 'it/api')!;
    api.monitoring.url = '/health?x=$HOST$';
    api.monitoring.notes = 'say "hi" \\ bye';
    const text = hosts(model);
    assert.match(text, /vars\.http_uri = "\/health\?x=\$\$HOST\$\$"/);
    await assertIcingaAccepts(site(model));
  });
});

describe('Icinga 2: the agent file of each node', () => {
  it('holds the commands the agent runs and no host or service', async () => {
    const model = await campus();
    const lb1 = renderOne(renderIcinga2, model, 'icinga2/intentlb.conf', 'lb1');
    assertGolden('test/render/golden/icinga2/lb1.conf', lb1);
    assert.doesNotMatch(lb1, /^object (Host|Service|Zone|Endpoint) /m);
    assert.match(lb1, /^object CheckCommand "intentlb-node" \{/m);
    // The master's copy is the same definition.
    assert.ok(site(model)['icinga2/commands.conf']!.includes(lb1.slice(lb1.indexOf('object CheckCommand'))));
    await assertIcingaAccepts({ 'icinga2/intentlb.conf': lb1 });
  });
});

describe('Icinga 2: generated checks run for real', () => {
  it('healthd:<vip> passes on the metric line real healthd metrics write, and fails when the VIP is down', async () => {
    const metrics = new HealthdMetrics({ defaultMetrics: false });
    const state = (health: 'up' | 'down'): HealthdState =>
      ({
        vips: new Map([['web-typo3-www', { health, announced: health === 'up', draining: false }]]),
        draining: false,
        bird: { up: true },
      }) as unknown as HealthdState;
    let current = state('up');
    metrics.sync(undefined, current);
    const server = createHttpServer((_req, res) => {
      void metrics.text().then((t) => res.writeHead(200, { 'content-type': metrics.contentType }).end(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const v = { ...vars(object(hosts(await campus()), 'Service', 'healthd:web-typo3-www', 'lb1')) };
      v.http_address = '127.0.0.1';
      v.http_port = port;
      const argv = itlCommandLine('http', v);
      assert.ok(argv.includes('-s'), argv.join(' '));
      const up = await run(argv);
      assert.equal(up.code, 0, up.out);
      const next = state('down');
      metrics.sync(current, next);
      current = next;
      const down = await run(argv);
      assert.equal(down.code, 2, down.out);
    } finally {
      server.close();
    }
  });

  it('the TCP and SMTP frontend checks pass against a listener that speaks the protocol', async () => {
    requireTool('/usr/lib/nagios/plugins/check_smtp');
    const smtp = createServer((c) => {
      c.write('220 mx.test ESMTP\r\n');
      c.on('data', (d) => {
        const line = d.toString();
        if (/^(EHLO|HELO)/i.test(line)) c.write('250 mx.test\r\n');
        else if (/^QUIT/i.test(line)) c.end('221 bye\r\n');
      });
      c.on('error', () => {});
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    try {
      const port = (smtp.address() as AddressInfo).port;
      const text = hosts(await campus());
      for (const [check, host, addr, portVar] of [
        ['smtp-25', 'vip:it/mail/smtp', 'smtp_address', 'smtp_port'],
        ['tcp-6379', 'vip:research/redis', 'tcp_address', 'tcp_port'],
      ] as const) {
        const v = { ...vars(object(text, 'Service', check, host)), [addr]: '127.0.0.1', [portVar]: port };
        const command = /check_command = "([^"]+)"/.exec(object(text, 'Service', check, host))![1]!;
        const r = await run(itlCommandLine(command, v));
        assert.equal(r.code, 0, `${check}: ${r.out}`);
      }
    } finally {
      smtp.close();
    }
  });
});
