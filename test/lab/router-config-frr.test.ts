import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateFrr } from '../../src/build/validate-tools.ts';
import { frrRouterProblems, frrSessionName, renderFrrConfig } from '../../src/lab/frr-config.ts';
import { renderRouterConfig, type VipRouting } from '../../src/lab/router-config.ts';
import type { Model } from '../../src/model/index.ts';
import { renderBird } from '../../src/render/bird/index.ts';
import { renderOne } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';
import { campusLab, toVrrp } from './campus-lab.ts';

async function render(routing: VipRouting, mutate?: (m: Model) => void): Promise<string> {
  const { model, topology } = await campusLab(mutate);
  return renderFrrConfig(model, topology, routing);
}

async function frrCheck(text: string): Promise<{ ok: boolean; output: string }> {
  requireTool('vtysh');
  return withTempDir(async (dir) => {
    const file = join(dir, 'frr.conf');
    writeFileSync(file, text);
    return validateFrr(file);
  });
}

async function assertFrrAccepts(text: string): Promise<void> {
  const r = await frrCheck(text);
  assert.ok(r.ok, `vtysh --dryrun rejected the router configuration:\n${r.output}\n---\n${text}`);
}

describe('lab router configuration (FRRouting)', () => {
  for (const routing of ['bgp', 'static'] as const) {
    it(`renders examples/campus (${routing}) as the golden file, and vtysh --dryrun accepts it`, async () => {
      const text = await render(routing);
      assertGolden(`test/lab/golden/router-frr-campus-${routing}.conf`, text);
      await assertFrrAccepts(text);
    });
  }

  it('the check is the real one: vtysh --dryrun rejects a misspelt command', async () => {
    const r = await frrCheck((await render('bgp')).replace('remote-as', 'remote-az'));
    assert.equal(r.ok, false);
  });

  it('is deterministic', async () => {
    assert.equal(await render('bgp'), await render('bgp'));
  });

  it("matches each node's session and the BIRD router's: addresses, AS numbers, timers, BFD", async () => {
    const { model, topology } = await campusLab();
    const frr = await render('bgp');
    const bird = renderRouterConfig(model, topology, 'bgp');
    const node = renderOne(renderBird, model, 'bird/intentlb.conf', 'lb1');
    const local = /local (\S+) as (\d+);/.exec(node)!;
    const neighbor = /neighbor (\S+) as (\d+);/.exec(node)!;
    assert.match(frr, new RegExp(`^router bgp ${neighbor[2]}$`, 'm'));
    assert.match(frr, new RegExp(`neighbor ${local[1]!.replace(/\./g, '\\.')} remote-as ${local[2]}$`, 'm'));
    assert.match(
      frr,
      new RegExp(`neighbor ${local[1]!.replace(/\./g, '\\.')} update-source ${neighbor[1]}$`, 'm'),
    );
    const hold = /hold time (\d+);/.exec(node)![1];
    const keepalive = /keepalive time (\d+);/.exec(node)![1];
    assert.match(frr, new RegExp(`^ timers bgp ${keepalive} ${hold}$`, 'm'));
    const [, interval, multiplier] = /bfd \{ interval (\d+)ms; multiplier (\d+); \};/.exec(bird)!;
    assert.match(frr, new RegExp(`receive-interval ${interval}\\n  transmit-interval ${interval}`));
    assert.match(frr, new RegExp(`detect-multiplier ${multiplier}$`, 'm'));
    assert.equal(frr.match(/bfd profile lab$/gm)?.length, 2);
  });

  it('learns both families over the IPv4 sessions, multipath, eBGP without a route reflector', async () => {
    const text = await render('bgp');
    for (const family of ['ipv4', 'ipv6']) {
      const af = new RegExp(`address-family ${family} unicast\\n([^]*?)exit-address-family`).exec(text)![1]!;
      assert.match(af, /maximum-paths 64\n/);
      assert.match(af, /maximum-paths ibgp 64\n/);
      assert.equal(af.match(/neighbor \S+ activate/g)?.length, 2, family);
      assert.equal(af.match(/route-map LAB-IMPORT in/g)?.length, 2, family);
      assert.equal(af.match(/route-map LAB-EXPORT out/g)?.length, 2, family);
    }
    assert.doesNotMatch(
      text,
      /route-reflector-client/,
      'eBGP (65000 vs 65001): a route reflector needs iBGP',
    );
    assert.doesNotMatch(text, /^ip route/m, 'BGP mode: VIP routes come only from the nodes');
    assert.equal(frrSessionName('rr1_lb1 (rr1 <-> LB node lb1)', '198.18.0.11'), 'rr1_lb1');
    assert.equal(frrSessionName(undefined, '198.18.0.11'), '198.18.0.11');
  });

  it('iBGP sites make every node a route-reflector client; vtysh accepts it', async () => {
    const text = await render('bgp', (m) => {
      m.site.ha.bgp!.localAs = 65000;
    });
    assert.equal(text.match(/route-reflector-client$/gm)?.length, 4);
    await assertFrrAccepts(text);
  });

  it('static mode routes every VIP to every node (staticd), per family', async () => {
    const text = await render('static');
    assert.match(
      text,
      /^ip route 198\.18\.100\.10\/32 198\.18\.0\.11\nip route 198\.18\.100\.10\/32 198\.18\.0\.12$/m,
    );
    assert.match(text, /^ipv6 route 2001:db8:103::20\/128 2001:db8::12$/m);
  });

  it('VRRP sites resolve the VIPs on the nodes segment; vtysh accepts it', async () => {
    const text = await render('onlink', toVrrp);
    assert.match(text, /^ip route 198\.18\.100\.10\/32 br0$/m);
    assert.match(text, /^ipv6 route 2001:db8:100::10\/128 br0$/m);
    await assertFrrAccepts(text);
  });

  it('without BFD in the site, the sessions ask for none; a peer in another AS says its own', async () => {
    const text = await render('bgp', (m) => {
      m.site.ha.bgp!.bfd = 'off';
      m.site.ha.bgp!.peers.push({ name: 'rr6', address: '2001:db8::1', as: 65002 });
    });
    assert.doesNotMatch(text, /bfd/);
    assert.match(text, /^ neighbor 2001:db8::11 local-as 65002 no-prepend replace-as$/m);
    await assertFrrAccepts(text);
  });

  it('refuses two peers of one family: bgpd has one session per neighbor address', async () => {
    const { model } = await campusLab((m) => {
      m.site.ha.bgp!.peers.push({ name: 'rr2', address: '198.18.0.2', as: 65000 });
    });
    const problems = frrRouterProblems(model);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.deepEqual(frrRouterProblems((await campusLab()).model), []);
  });
});
