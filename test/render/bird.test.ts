import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateBird } from '../../src/build/validate-tools.ts';
import type { Model } from '../../src/model/index.ts';
import { renderBird, vipProtocols } from '../../src/render/bird/index.ts';
import { DEFAULT_LAYOUT } from '../../src/render/types.ts';
import {
  parseVipState,
  stateSymbol,
  VIP_STATE_FILE,
  vipStateText,
} from '../../src/runtime/bird-vip-state.ts';
import { campus, renderOne, writeBirdFiles } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

function render(model: Model, nodeName = 'lb1'): string {
  return renderOne(renderBird, model, 'bird/intentlb.conf', nodeName);
}

function bgpOf(model: Model): NonNullable<Model['site']['ha']['bgp']> {
  assert.ok(model.site.ha.bgp);
  return model.site.ha.bgp;
}

/** `bird -p` on the node's configuration, with the all-disabled state file it includes beside it. */
async function assertBirdAccepts(model: Model, state?: string): Promise<void> {
  requireTool('bird');
  await withTempDir(async (dir) => {
    const file = writeBirdFiles(dir, model);
    if (state !== undefined) writeFileSync(join(dir, VIP_STATE_FILE), state);
    const r = await validateBird(file);
    assert.ok(r.ok, `bird -p rejected the configuration:\n${r.output}\n---\n${render(model)}`);
  });
}

/** `bird -p`'s complaint about the configuration with `state` as its state file ('' when accepted). */
async function birdRejection(model: Model, state: string): Promise<string> {
  return withTempDir(async (dir) => {
    const file = writeBirdFiles(dir, model);
    writeFileSync(join(dir, VIP_STATE_FILE), state);
    const r = await validateBird(file);
    return r.ok ? '' : r.output;
  });
}

describe('BIRD renderer', () => {
  it('renders examples/campus for lb1 as the golden file', async () => {
    assertGolden('test/render/golden/bird/lb1.conf', render(await campus()));
  });

  it('renders a configuration that bird -p accepts', async () => {
    await assertBirdAccepts(await campus());
  });

  it('is deterministic', async () => {
    assert.equal(render(await campus()), render(await campus()));
  });

  it('has no kernel protocol; each VIP protocol is disabled by its constant in the state file', async () => {
    const model = await campus();
    const text = render(model);
    assert.doesNotMatch(text, /protocol kernel/);
    assert.match(text, /^router id 198\.18\.0\.11;$/m);
    assert.match(text, /^include "vip-state\.conf";$/m);
    const names = model.instances.flatMap((i) => vipProtocols(i).map((p) => p.name));
    assert.ok(names.includes('vip_web_typo3_www') && names.includes('vip6_web_typo3_www'));
    for (const name of names) {
      const off = name.replace(/^vip/, 'off');
      assert.match(text, new RegExp(`protocol static ${name} \\{\\n(?: {4}#.*\\n)? {4}disabled ${off};`));
    }
    // The generation's copy: every one of them, disabled, and nothing else.
    const node = model.site.nodes.find((n) => n.name === 'lb1')!;
    const state = renderBird(model, node, DEFAULT_LAYOUT).find((f) => f.path === 'bird/vip-state.conf')!;
    assert.deepEqual(parseVipState(state.content), new Map(names.map((n) => [n, true])));
  });

  it('bird -p takes 0 and 1 for each constant, and refuses a state file that misses one or names one twice', async () => {
    requireTool('bird');
    const model = await campus();
    const names = model.instances.flatMap((i) => vipProtocols(i).map((p) => p.name));
    const enabled = new Map(names.map((n, i) => [n, i % 2 === 0]));
    await assertBirdAccepts(model, vipStateText(enabled));
    const missing = new Map(enabled);
    missing.delete(names[0]!);
    assert.notEqual(await birdRejection(model, vipStateText(missing)), '');
    const text = vipStateText(enabled);
    assert.notEqual(
      await birdRejection(model, `${text}${text.split('\n').find((l) => l.startsWith('define'))}\n`),
      '',
    );
  });

  it('the longest protocol names still make valid constants (BIRD symbols stop at 64 characters)', async () => {
    requireTool('bird');
    const model = await campus();
    const inst = model.instances.find((i) => vipProtocols(i).length === 2)!;
    (inst as { name: string }).name = 'x'.repeat(59);
    const names = vipProtocols(inst).map((p) => stateSymbol(p.name));
    assert.deepEqual(
      names.map((n) => n.length),
      [63, 64],
    );
    await assertBirdAccepts(model);
  });

  it('carries IPv6 VIPs over the IPv4 session with the node IPv6 address as next hop', async () => {
    const text = render(await campus());
    assert.match(text, /ipv6 \{\n {8}next hop address 2001:db8::11;\n {8}import none;/);
    assert.match(text, /ipv4 \{\n {8}import none;\n {8}export filter intentlb_export;/);
  });

  it('comes back within seconds of a session error, damps a flapping path, and connects itself', async () => {
    // ADR 0023: one error costs a second, errors within a minute double it up to 30 s, and the node
    // retries its own connections every 5 s whatever the router does.
    const text = render(await campus());
    for (const line of [
      'connect delay time 1;',
      'connect retry time 5;',
      'error wait time 1, 30;',
      'error forget time 60;',
    ])
      assert.ok(text.includes(`\n    ${line}\n`), line);
  });

  it('renders the BFD profiles and leaves BFD out when off', async () => {
    const model = await campus();
    bgpOf(model).bfd = 'conservative';
    const conservative = render(model);
    assert.match(conservative, /bfd \{ interval 300ms; multiplier 3; \};/);
    await assertBirdAccepts(model);
    bgpOf(model).bfd = 'off';
    const off = render(model);
    assert.doesNotMatch(off, /bfd/);
    await assertBirdAccepts(model);
  });

  it('tags exported routes with communities and MED, and handles IPv6 peers', async () => {
    const model = await campus();
    const bgp = bgpOf(model);
    bgp.communities = ['65001:100', '65001:200'];
    bgp.med = 50;
    bgp.peers.push({ name: 'rr2-v6', address: '2001:db8::1', as: 65000, password: 's3cret' });
    const text = render(model);
    assert.match(
      text,
      /bgp_community\.add\(\(65001, 100\)\);\n {8}bgp_community\.add\(\(65001, 200\)\);\n {8}bgp_med = 50;/,
    );
    assert.match(text, /protocol bgp bgp_rr2_v6 \{[^}]*local 2001:db8::11 as 65001;/);
    assert.match(text, /ipv4 \{\n {8}next hop address 198\.18\.0\.11;/);
    await assertBirdAccepts(model);
  });

  it('renders no file when the site is not anycast', async () => {
    const model = await campus();
    model.site.ha = { mode: 'none' };
    assert.deepEqual(renderBird(model, model.site.nodes[0]!, DEFAULT_LAYOUT), []);
  });
});
