import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateBird } from '../../src/build/validate-tools.ts';
import {
  renderRouterConfig,
  routerSessions,
  type VipRouting,
  vipRouting,
} from '../../src/lab/router-config.ts';
import type { Model } from '../../src/model/index.ts';
import { renderBird } from '../../src/render/bird/index.ts';
import { renderOne } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';
import { campusLab, toVrrp } from './campus-lab.ts';

async function render(routing: VipRouting, mutate?: (m: Model) => void): Promise<string> {
  const { model, topology } = await campusLab(mutate);
  return renderRouterConfig(model, topology, routing);
}

async function assertBirdAccepts(text: string): Promise<void> {
  requireTool('bird');
  await withTempDir(async (dir) => {
    const file = join(dir, 'bird.conf');
    writeFileSync(file, text);
    const r = await validateBird(file);
    assert.ok(r.ok, `bird -p rejected the router configuration:\n${r.output}\n---\n${text}`);
  });
}

describe('lab router configuration (BIRD 2)', () => {
  it('renders examples/campus, BGP mode, as the golden file, and bird -p accepts it', async () => {
    const text = await render('bgp');
    assertGolden('test/lab/golden/router-campus-bgp.conf', text);
    await assertBirdAccepts(text);
  });

  it('renders examples/campus with --static-vips as the golden file, and bird -p accepts it', async () => {
    const text = await render('static');
    assertGolden('test/lab/golden/router-campus-static.conf', text);
    await assertBirdAccepts(text);
  });

  it('is deterministic', async () => {
    assert.equal(await render('bgp'), await render('bgp'));
  });

  it("matches each node's session: addresses, AS numbers, timers and the site's BFD profile", async () => {
    const { model } = await campusLab();
    const router = await render('bgp');
    const node = renderOne(renderBird, model, 'bird/intentlb.conf', 'lb1');
    const local = /local (\S+) as (\d+);/.exec(node)!;
    const neighbor = /neighbor (\S+) as (\d+);/.exec(node)!;
    // The node's local end is the router's neighbor and the other way round.
    assert.match(router, new RegExp(`local ${neighbor[1]!.replace(/\./g, '\\.')} as ${neighbor[2]};`));
    assert.match(router, new RegExp(`neighbor ${local[1]!.replace(/\./g, '\\.')} as ${local[2]};`));
    for (const re of [/hold time \d+;/, /keepalive time \d+;/, /bfd \{ interval \S+; multiplier \d+; \};/]) {
      const want = re.exec(node)?.[0];
      assert.ok(want, `node config has ${re}`);
      assert.ok(router.includes(want), `router has ${want}`);
    }
    assert.match(router, /bfd \{ interval 50ms; multiplier 3; \};/, 'campus uses the fast profile');
    assert.match(router, /^protocol bfd \{$/m);
  });

  it('learns both families over the IPv4 session and merges equal paths into the kernel (ECMP)', async () => {
    const text = await render('bgp');
    assert.deepEqual(
      routerSessions((await campusLab()).model).map((s) => `${s.name} ${s.local}->${s.neighbor}`),
      ['rr1_lb1 198.18.0.1->198.18.0.11', 'rr1_lb2 198.18.0.1->198.18.0.12'],
    );
    assert.equal(text.match(/ipv6 \{\n {8}import all;/g)?.length, 2);
    assert.equal(text.match(/merge paths on;/g)?.length, 2);
    assert.doesNotMatch(text, /protocol static/, 'BGP mode: VIP routes come only from the nodes');
    assert.doesNotMatch(text, /rr client/, 'eBGP (65000 vs 65001): a route reflector needs iBGP');
  });

  it('static mode routes every VIP to every node, per family', async () => {
    const text = await render('static');
    assert.match(text, /route 198\.18\.100\.10\/32 via 198\.18\.0\.11 via 198\.18\.0\.12;/);
    assert.match(text, /route 2001:db8:103::20\/128 via 2001:db8::11 via 2001:db8::12;/);
    assert.equal(text.match(/ via 198\.18\.0\.11 via 198\.18\.0\.12;/g)?.length, 14);
  });

  it('iBGP sites get a direct session with rr client; bird -p accepts it', async () => {
    const text = await render('bgp', (m) => {
      m.site.ha.bgp!.localAs = 65000;
    });
    assert.equal(text.match(/rr client;/g)?.length, 2);
    assert.equal(text.match(/^ {4}direct;$/gm)?.length, 2);
    await assertBirdAccepts(text);
  });

  it('VRRP sites resolve the VIPs on the nodes segment; --static-vips is refused for them', async () => {
    const { model } = await campusLab();
    const vrrp = { ...model.site.ha, mode: 'vrrp' as const };
    assert.equal(vipRouting(vrrp, false), 'onlink');
    assert.match((vipRouting(vrrp, true) as { error: string }).error, /--static-vips is for anycast/);
    assert.equal(vipRouting(model.site.ha, true), 'static');
    assert.equal(vipRouting(model.site.ha, false), 'bgp');
    assert.equal(vipRouting({ mode: 'none' }, false), 'static');
    const text = await render('onlink', toVrrp);
    assert.match(text, /route 198\.18\.100\.10\/32 via "br0";/);
    assert.match(text, /route 2001:db8:100::10\/128 via "br0";/);
    assert.doesNotMatch(text, /protocol bgp/);
    await assertBirdAccepts(text);
  });

  it('without BFD in the site, the sessions ask for none', async () => {
    const text = await render('bgp', (m) => {
      m.site.ha.bgp!.bfd = 'off';
    });
    assert.doesNotMatch(text, /bfd/);
  });
});
