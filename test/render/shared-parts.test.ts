import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSite } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { intentRevision, renderNode } from '../../src/render/node.ts';
import { DEFAULT_LAYOUT } from '../../src/render/types.ts';
import { FIXTURE_NOW, FIXTURES, fixtureCases } from '../helpers/fixtures.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;

/** Each site's nodes rendered together (sharing what they render alike) and each node alone. */
async function renderBothWays(root: string): Promise<void> {
  const l = load(diskFs(root));
  const { model } = await compile(l.value, { now: FIXTURE_NOW });
  assert.ok(model, `${root} compiles`);
  const together = renderSite(model, l.value.sources, l.value.certs);
  assert.equal(together.length, model.site.nodes.length);
  const revision = intentRevision(l.value.sources, l.value.certs);
  for (const [i, node] of model.site.nodes.entries()) {
    const alone = renderNode(model, node, DEFAULT_LAYOUT, revision);
    assert.deepEqual(together[i]!.files, alone, `${root}: node ${node.name} renders alike both ways`);
  }
}

describe('rendering the nodes of a site together', () => {
  it('gives every node of examples/campus the files it gets rendered alone', async () => {
    await renderBothWays(CAMPUS);
  });

  it('gives every node of every fixture the files it gets rendered alone', async () => {
    for (const name of fixtureCases()) await renderBothWays(`${FIXTURES}${name}/site`);
  });

  it('names each node in its own files (only the shared parts are shared)', async () => {
    const l = load(diskFs(CAMPUS));
    const { model } = await compile(l.value, { now: FIXTURE_NOW });
    const [lb1, lb2] = renderSite(model!, l.value.sources, l.value.certs);
    const cfg = (n: typeof lb1, path: string): string => n!.files.find((f) => f.path === path)!.content;
    const path = 'haproxy/it-api.cfg';
    assert.match(cfg(lb1, path), /node lb1,[^\n]*\n[\s\S]*\n {4}bind 198\.18\.0\.11:/);
    assert.match(cfg(lb2, path), /node lb2,[^\n]*\n[\s\S]*\n {4}bind 198\.18\.0\.12:/);
    for (const p of ['icinga2/intentlb.conf', 'nftables/intentlb.nft', 'bird/intentlb.conf']) {
      assert.match(cfg(lb2, p), /node lb2/, p);
      assert.doesNotMatch(cfg(lb2, p), /node lb1/, p);
    }
  });
});
