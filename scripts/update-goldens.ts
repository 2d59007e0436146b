// Rewrites fixtures/<case>/expected/ from the current renderers. Run deliberately, then review the diff.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FIXTURES, fixtureCases, isGolden, renderFixture } from '../test/helpers/fixtures.ts';

for (const name of fixtureCases()) {
  const { nodes, diagnostics } = await renderFixture(name);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    console.error(
      `${name}: ${errors.map((d) => `${d.file}:${d.line}:${d.column} ${d.code} ${d.message}`).join('\n')}`,
    );
    process.exitCode = 1;
    continue;
  }
  const expected = join(FIXTURES, name, 'expected');
  rmSync(expected, { recursive: true, force: true });
  for (const n of nodes) {
    for (const f of n.files.filter((x) => isGolden(x.path))) {
      const p = join(expected, n.name, f.path);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.content);
    }
  }
  console.log(`${name}: ${nodes.reduce((k, n) => k + n.files.length, 0)} files`);
}
