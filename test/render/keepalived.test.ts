import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { validateKeepalived } from '../../src/build/validate-tools.ts';
import { compile } from '../../src/compile.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { Model } from '../../src/model/index.ts';
import { renderKeepalived } from '../../src/render/keepalived/index.ts';
import { DEFAULT_LAYOUT } from '../../src/render/types.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireRoot, requireTool, withTempDir } from '../helpers/tools.ts';

const NOW = new Date('2026-11-22T00:00:00Z');

async function compileDir(dir: string): Promise<Model> {
  const l = load(diskFs(dir));
  const { model, diagnostics } = await compile(l.value!, { now: NOW });
  assert.ok(model, `${dir} compiles: ${JSON.stringify(diagnostics)}`);
  return model;
}

/** examples/campus with `ha: { mode: vrrp, vrrp: { interface: eth0, router_id_base: 50 } }`. */
async function campusVrrp(vrrp: Record<string, unknown> = {}): Promise<Model> {
  return withTempDir(async (dir) => {
    cpSync('examples/campus', dir, { recursive: true });
    const site = join(dir, 'site.yaml');
    const doc = parseDocument(readFileSync(site, 'utf8'));
    doc.set('ha', { mode: 'vrrp', vrrp: { interface: 'eth0', router_id_base: 50, ...vrrp } });
    writeFileSync(site, doc.toString());
    return compileDir(dir);
  });
}

function render(model: Model, nodeName = 'lb1'): string {
  const node = model.site.nodes.find((n) => n.name === nodeName)!;
  const files = renderKeepalived(model, node, DEFAULT_LAYOUT);
  assert.deepEqual(
    files.map((f) => f.path),
    ['keepalived/keepalived.conf'],
  );
  return files[0]!.content;
}

async function assertKeepalivedAccepts(content: string): Promise<void> {
  requireTool('keepalived');
  requireTool('ip');
  requireRoot();
  await withTempDir(async (dir) => {
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, content);
    const r = await validateKeepalived(file);
    assert.ok(r.ok, `keepalived -t rejected the configuration:\n${r.output}`);
  });
}

describe('keepalived renderer', () => {
  it('renders no file for an anycast site', async () => {
    const model = await compileDir('examples/campus');
    assert.deepEqual(renderKeepalived(model, model.site.nodes[0]!, DEFAULT_LAYOUT), []);
  });

  it('renders the vrrp variant of examples/campus for lb1 as the golden file', async () => {
    assertGolden('test/render/golden/keepalived/lb1.conf', render(await campusVrrp()));
  });

  it('renders a configuration that keepalived -t accepts', async () => {
    await assertKeepalivedAccepts(render(await campusVrrp()));
  });

  it('is deterministic', async () => {
    const model = await campusVrrp();
    assert.equal(render(model), render(model));
    assert.equal(render(model), render(await campusVrrp()));
  });

  it('numbers router ids from the base in instance order and ranks nodes by site order', async () => {
    const model = await campusVrrp();
    const lb1 = render(model, 'lb1');
    const lb2 = render(model, 'lb2');
    const ids = [...lb1.matchAll(/virtual_router_id (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(
      ids,
      model.instances.map((_, i) => 50 + i),
    );
    assert.match(lb1, /priority 200\n/);
    assert.match(lb2, /priority 190\n/);
    assert.doesNotMatch(lb1, /nopreempt|state MASTER/);
    assert.match(lb2, /unicast_src_ip 198\.18\.0\.12\n {4}unicast_peer \{\n {8}198\.18\.0\.11\n/);
  });

  it('keeps one family per VRRP instance', async () => {
    const text = render(await campusVrrp());
    // Dual-stack: the IPv6 VIP moves with the IPv4 instance without being advertised.
    assert.match(
      text,
      /virtual_ipaddress \{\n {8}198\.18\.100\.10\/32\n {4}\}\n {4}virtual_ipaddress_excluded \{\n {8}2001:db8:100::10\/128\n/,
    );
    // IPv6 only: an IPv6 VRRP instance between the nodes' IPv6 addresses.
    assert.match(text, /unicast_src_ip 2001:db8::11\n {4}unicast_peer \{\n {8}2001:db8::12\n/);
  });

  it('checks each instance through its node-local monitor URI, never through the VIP', async () => {
    const model = await campusVrrp();
    const text = render(model);
    for (const inst of model.instances) {
      assert.ok(
        text.includes(
          `script "/usr/bin/curl -fsS --max-time 1 -o /dev/null http://198.18.0.11:${inst.statsPort}/_intentlb/health"`,
        ),
        `no node-local probe for ${inst.name}`,
      );
    }
    assert.doesNotMatch(text, /:8999\//, 'a probe of the VIP would judge the master, not this node');
  });

  it('renders multicast VRRP that keepalived -t accepts', async () => {
    const text = render(await campusVrrp({ unicast: false, advert_int: 0.5 }));
    assert.doesNotMatch(text, /unicast/);
    assert.match(text, /advert_int 0\.5\n/);
    await assertKeepalivedAccepts(text);
  });

  it('refuses router ids past 255 (the checks reject such a site first)', async () => {
    const model = await campusVrrp();
    model.site.ha.vrrp!.routerIdBase = 250;
    assert.throws(() => render(model), /exceed 255/);
  });
});
