import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { renderSite, writeFiles } from '../../src/build/build.ts';
import { runTool } from '../../src/build/run-tool.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { compileFiles, withFiles, yaml } from '../helpers/site.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

// Found by test/check/check-implies-build.property.test.ts: TPROXY towards IPv6-only servers was
// written `source :: usesrc clientip`, which HAProxy reads as address ":" and port "" and rejects.
it('transparent towards IPv6-only servers renders a source HAProxy accepts', async () => {
  const haproxy = requireTool('haproxy');
  const r = await compileFiles(
    withFiles(BASE_SITE, {
      'services/db/pg.yaml': yaml(
        'vip: 198.18.20.10',
        'protocol: pgsql',
        'backend:',
        '  transparent: true',
        '  servers: [{ name: v6, address: "2001:db8:11::40" }]',
      ),
    }),
  );
  assert.ok(r.model, r.all.map((d) => d.message).join('\n'));
  const [lb1] = renderSite(r.model, r.loaded.sources, r.loaded.certs);
  const file = lb1!.files.find((f) => f.path.startsWith('haproxy/') && f.content.includes('usesrc'));
  assert.match(file!.content, /^\s*source \[::\] usesrc clientip$/m);
  await withTempDir(async (dir) => {
    writeFiles(dir, lb1!.files);
    const v = await runTool(haproxy, ['-c', '-f', join(dir, file!.path)]);
    assert.ok(v.ok, v.output);
  });
});
