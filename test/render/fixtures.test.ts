import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildSite } from '../../src/build/build.ts';
import { allValidators } from '../../src/build/validators.ts';
import { ERROR_FIXTURES, FIXTURES, fixtureCases, isGolden, renderFixture } from '../helpers/fixtures.ts';
import { assertGolden, assertGoldenTree, updatingGoldens } from '../helpers/golden.ts';
import { where } from '../helpers/site.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

// One folder per feature under fixtures/ (site/ in, expected/ out) and one per invalid site under
// fixtures/_error_/ (site/ in, expected.json: its diagnostics). `npm run goldens:update` rewrites
// both deliberately; under CI it refuses.
describe('golden fixtures', () => {
  const cases = fixtureCases();
  it('has fixture cases', () => assert.ok(cases.length >= 10, `only ${cases.length} fixtures`));

  for (const name of cases) {
    describe(name, () => {
      it('renders exactly the expected files, byte for byte', async () => {
        const { nodes, diagnostics } = await renderFixture(name);
        assert.deepEqual(
          diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.file}:${d.line}`),
          [],
        );
        const rendered = nodes.flatMap((n) =>
          n.files.filter((f) => isGolden(f.path)).map((f) => ({ ...f, path: `${n.name}/${f.path}` })),
        );
        assertGoldenTree(`fixtures/${name}/expected`, rendered);
      });

      it('renders deterministically', async () => {
        const a = await renderFixture(name);
        const b = await renderFixture(name);
        assert.deepEqual(a.nodes, b.nodes);
      });

      it('every generated file passes its real tool (haproxy, bird, nft, keepalived, icinga2)', async () => {
        for (const v of allValidators()) requireTool(v.tool);
        const { nodes } = await renderFixture(name);
        const report = await withTempDir((dir) => buildSite(nodes, join(dir, 'out'), { validate: true }));
        assert.deepEqual(report.skipped, []);
        assert.deepEqual(
          report.rejections.map((r) => `${r.node}/${r.path} (${r.tool}): ${r.output}`),
          [],
        );
        assert.ok(report.validated > 0);
      });
    });
  }
});

describe('error fixtures', () => {
  const cases = fixtureCases(ERROR_FIXTURES);
  it('has error cases', () => assert.ok(cases.length >= 5, `only ${cases.length} error fixtures`));

  for (const name of cases) {
    it(`${name}: exactly the expected diagnostics, and no model`, async () => {
      const { nodes, diagnostics } = await renderFixture(name, ERROR_FIXTURES);
      assert.deepEqual(nodes, []);
      const got = `${JSON.stringify(diagnostics.map(where), null, 2)}\n`;
      assertGolden(`fixtures/_error_/${name}/expected.json`, got);
      assert.ok(
        (JSON.parse(readFileSync(join(FIXTURES, '_error_', name, 'expected.json'), 'utf8')) as unknown[])
          .length > 0,
      );
    });
  }
});

describe('golden update mode', () => {
  it('is refused under CI, so a CI run can never rewrite the goldens it checks', () => {
    const saved = { UPDATE_GOLDENS: process.env.UPDATE_GOLDENS, CI: process.env.CI };
    try {
      process.env.UPDATE_GOLDENS = '1';
      process.env.CI = 'true';
      assert.throws(() => updatingGoldens(), /under CI/);
      process.env.CI = '';
      assert.equal(updatingGoldens(), true);
      delete process.env.UPDATE_GOLDENS;
      process.env.CI = 'true';
      assert.equal(updatingGoldens(), false);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
