import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateIcinga } from '../../src/build/validate-tools.ts';
import type { Model } from '../../src/model/index.ts';
import { macroText, renderIcinga2 } from '../../src/render/icinga2/index.ts';
import { campus, renderOne } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

function render(model: Model, nodeName = 'lb1'): string {
  return renderOne(renderIcinga2, model, 'icinga2/intentlb.conf', nodeName);
}

async function assertIcingaAccepts(content: string): Promise<void> {
  requireTool('icinga2');
  await withTempDir(async (dir) => {
    const file = join(dir, 'intentlb.conf');
    writeFileSync(file, content);
    const r = await validateIcinga(file);
    assert.ok(r.ok, `icinga2 daemon -C rejected the configuration:\n${r.output}`);
  });
}

/** The body of `object <type> "<name>"` (host_name too for services), up to its closing brace. */
function object(text: string, type: 'Host' | 'Service', name: string, host?: string): string {
  const bodies = [...text.matchAll(/^object (\w+) "([^"]*)" \{\n([^}]*)\n\}$/gm)]
    .filter((m) => m[1] === type && m[2] === name)
    .map((m) => m[3]!)
    .filter((b) => host === undefined || b.includes(`host_name = "${host}"`));
  assert.equal(bodies.length, 1, `one ${type} ${name}${host ? ` on ${host}` : ''}`);
  return bodies[0]!;
}

describe('Icinga 2 renderer', () => {
  it('renders examples/campus for lb1 as the golden file', async () => {
    assertGolden('test/render/golden/icinga2/lb1.conf', render(await campus()));
  });

  it('renders objects that icinga2 daemon -C accepts', async () => {
    await assertIcingaAccepts(render(await campus()));
  });

  it('is deterministic', async () => {
    assert.equal(render(await campus()), render(await campus()));
  });

  it('checks each HTTP frontend port on each VIP with the first FQDN and the monitoring URL', async () => {
    const text = render(await campus());
    const tls = object(text, 'Service', 'http-443', 'vip:web/typo3/www');
    assert.match(tls, /vars\.http_address = "198\.18\.100\.10"/);
    assert.match(tls, /vars\.http_ssl = true/);
    assert.match(tls, /vars\.http_vhost = "www\.campus\.example"/);
    assert.match(tls, /vars\.http_uri = "\/healthz"/);
    const v6 = object(text, 'Service', 'http-443-v6', 'vip:web/typo3/www');
    assert.match(v6, /vars\.http_address = "2001:db8:100::10"/);
    const host = object(text, 'Host', 'vip:research/mirror');
    assert.match(host, /address6 = "2001:db8:103::20"/);
    assert.doesNotMatch(host, /^ {2}address = /m);
  });

  it('checks TCP frontends with tcp, over TLS where the listener terminates it', async () => {
    const text = render(await campus());
    assert.match(object(text, 'Service', 'tcp-993', 'vip:it/mail/imaps'), /vars\.tcp_ssl = true/);
    assert.match(object(text, 'Service', 'tcp-5432', 'vip:library/pg'), /vars\.tcp_port = 5432/);
  });

  it('adds one host per backend server and a check per port it serves', async () => {
    const text = render(await campus());
    const web1 = object(text, 'Host', 'server:web1@198.18.10.11');
    assert.match(
      web1,
      /vars\.intentlb_backends = \[ "be_web-intranet", "be_web-typo3-events", "be_web-typo3-www" \]/,
    );
    assert.match(
      object(text, 'Service', 'http-8080', 'server:web1@198.18.10.11'),
      /vars\.http_uri = "\/healthz"/,
    );
    assert.match(object(text, 'Service', 'http-8081', 'server:web1@198.18.10.11'), /vars\.http_port = 8081/);
    // PROXY protocol servers (it/ldap) and non-HTTP checks get a plain TCP check.
    assert.match(object(text, 'Service', 'tcp-389', 'server:ldap1@198.18.11.31'), /check_command = "tcp"/);
    assert.match(
      object(text, 'Host', 'server:api1@198.18.12.11'),
      /notification_contacts = \[ "it-oncall" \]/,
    );
  });

  it('leaves out services without monitoring.icinga, and their servers', async () => {
    const model = await campus();
    for (const s of model.services) if (s.id !== 'it/api') s.monitoring.icinga = false;
    const text = render(model);
    const hosts = [...text.matchAll(/^object Host "([^"]+)"/gm)].map((m) => m[1]);
    assert.deepEqual(hosts, ['vip:it/api', 'server:api1@198.18.12.11', 'server:api2@198.18.12.12']);
    await assertIcingaAccepts(text);
  });

  it('escapes quotes and macro dollars', async () => {
    assert.equal(macroText('/a$b$'), '/a$$b$$');
    const model = await campus();
    const api = model.services.find((s) => s.id === 'it/api')!;
    api.monitoring.url = '/health?x=$HOST$';
    api.monitoring.notes = 'say "hi" \\ bye';
    const text = render(model);
    assert.match(text, /vars\.http_uri = "\/health\?x=\$\$HOST\$\$"/);
    await assertIcingaAccepts(text);
  });
});
