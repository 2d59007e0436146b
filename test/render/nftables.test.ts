import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateNft } from '../../src/build/validate-tools.ts';
import type { Model } from '../../src/model/index.ts';
import { renderNftables } from '../../src/render/nftables/index.ts';
import { campus, renderOne } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireRoot, requireTool, withTempDir } from '../helpers/tools.ts';

function render(model: Model, nodeName = 'lb1'): string {
  return renderOne(renderNftables, model, 'nftables/intentlb.nft', nodeName);
}

/** `nft -c` in a network namespace created and deleted by validateNft: the host ruleset is never touched. */
async function assertNftAccepts(content: string): Promise<void> {
  requireTool('nft');
  requireTool('ip');
  requireRoot();
  await withTempDir(async (dir) => {
    const file = join(dir, 'intentlb.nft');
    writeFileSync(file, content);
    const r = await validateNft(file);
    assert.ok(r.ok, `nft -c rejected the ruleset:\n${r.output}`);
  });
}

describe('nftables renderer', () => {
  it('renders examples/campus for lb1 as the golden file', async () => {
    assertGolden('test/render/golden/nftables/lb1.nft', render(await campus()));
  });

  it('renders a ruleset that nft -c accepts (in a throwaway network namespace)', async () => {
    await assertNftAccepts(render(await campus()));
  });

  it('is deterministic', async () => {
    const a = render(await campus());
    const b = render(await campus());
    assert.equal(a, b);
  });

  it('replaces the table atomically and drops by default', async () => {
    const text = render(await campus());
    assert.match(text, /^table inet intentlb \{\}\ndelete table inet intentlb\n\ntable inet intentlb \{$/m);
    assert.match(text, /type filter hook input priority filter; policy drop;/);
  });

  it('opens a service with an allow list only to those sources, and names it', async () => {
    const text = render(await campus());
    assert.match(
      text,
      /ip saddr \{ 198\.18\.0\.0\/15 \} ip daddr \. tcp dport \{ 198\.18\.102\.30 \. 5432 \} accept comment "library\/pg"/,
    );
    assert.doesNotMatch(text, /198\.18\.102\.30 \. 5432 comment/);
    assert.match(text, /198\.18\.100\.10 \. 443 comment "web\/typo3\/www",/);
  });

  it('allows BGP and BFD from the peers only when anycast', async () => {
    const text = render(await campus());
    assert.match(text, /ip saddr @bgp_peers_v4 tcp dport 179 accept/);
    assert.match(text, /ip saddr @bgp_peers_v4 udp dport \{ 3784, 3785, 4784 \} accept/);
    assert.doesNotMatch(text, /l4proto 112/);
  });

  it('allows VRRP on the VRRP interface and no BGP when vrrp', async () => {
    const model = await campus();
    const { bgp: _bgp, ...ha } = model.site.ha;
    model.site.ha = {
      ...ha,
      mode: 'vrrp',
      vrrp: { interface: 'eth0', routerIdBase: 50, unicast: true, advertInt: 1 },
    };
    const text = render(model);
    assert.match(text, /iifname "eth0" meta l4proto 112 accept/);
    assert.doesNotMatch(text, /bgp_peers|dport 179/);
    await assertNftAccepts(text);
  });

  it('opens management to everyone when management.allow is empty', async () => {
    const model = await campus();
    model.site.management.allow = [];
    const text = render(model);
    assert.doesNotMatch(text, /@mgmt_/);
    assert.match(text, /^ {8}tcp dport \{ 22, [0-9, ]+ \} accept comment "management"$/m);
    await assertNftAccepts(text);
  });

  it('accepts overlapping and dual-stack management prefixes', async () => {
    const model = await campus();
    model.site.management.allow = ['10.0.0.0/8', '10.1.0.0/16', '2001:db8:ffff::/48'];
    const text = render(model);
    assert.match(text, /ip6 saddr @mgmt_v6 tcp dport \{ 22,/);
    await assertNftAccepts(text);
  });
});
