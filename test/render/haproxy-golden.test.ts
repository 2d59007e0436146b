import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeFiles } from '../../src/build/build.ts';
import { runTool } from '../../src/build/run-tool.ts';
import { FIXTURES, fixtureCases, isGolden, listFiles, renderFixture } from '../helpers/fixtures.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

// One folder per feature under fixtures/; `npm run goldens:update` rewrites expected/ deliberately.
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
        const expectedDir = join(FIXTURES, name, 'expected');
        const rendered = nodes.flatMap((n) =>
          n.files.filter((f) => isGolden(f.path)).map((f) => ({ ...f, path: `${n.name}/${f.path}` })),
        );
        assert.deepEqual(
          rendered.map((f) => f.path).sort(),
          listFiles(expectedDir),
          'the set of generated files changed: run npm run goldens:update and review',
        );
        for (const f of rendered) {
          assert.equal(
            f.content,
            readFileSync(join(expectedDir, f.path), 'utf8'),
            `${f.path} drifted from its golden`,
          );
        }
      });

      it('renders deterministically', async () => {
        const a = await renderFixture(name);
        const b = await renderFixture(name);
        assert.deepEqual(a.nodes, b.nodes);
      });

      it('every golden HAProxy config passes haproxy -c', async () => {
        const haproxy = requireTool('haproxy');
        const { nodes } = await renderFixture(name);
        await withTempDir(async (dir) => {
          for (const n of nodes) {
            writeFiles(join(dir, n.name), n.files);
            for (const f of n.files.filter((x) => x.path.startsWith('haproxy/'))) {
              const r = await runTool(haproxy, ['-c', '-q', '-f', join(dir, n.name, f.path)]);
              assert.ok(r.ok, `${name}/${n.name}/${f.path} rejected by haproxy -c:\n${r.output}`);
            }
          }
        });
      });
    });
  }
});
