import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderSite } from '../../src/build/build.ts';
import { openStore, switchTo, writeGeneration } from '../../src/deploy/store.ts';
import { campus } from '../helpers/campus.ts';
import { cli } from '../helpers/cli.ts';
import { withTempDir } from '../helpers/tools.ts';

describe('intentlb status --format nagios', () => {
  it('is UNKNOWN (3) where nothing is installed', async () => {
    await withTempDir(async (dir) => {
      const r = await cli(['status', '--format', 'nagios', '--check', 'revision', '--root', dir]);
      assert.equal(r.code, 3);
      assert.match(r.stdout, /^UNKNOWN - /);
    });
  });

  it('judges an installed generation: revision, BIRD not answering, instances not running', async () => {
    const model = await campus();
    await withTempDir(async (dir) => {
      const store = openStore(join(dir, 'root'));
      const [lb1] = renderSite(model, new Map([['site.yaml', 'x']]), [], store.layout);
      switchTo(store, writeGeneration(store, lb1!.files));
      const manifest = JSON.parse(lb1!.files.find((f) => f.path === 'manifest.json')!.content) as {
        intent_revision: string;
      };
      const root = ['--root', join(dir, 'root')];
      const rev = manifest.intent_revision;
      // Installed, never applied: the revision matches but is not the applied generation.
      const same = await cli([
        'status',
        '--format',
        'nagios',
        '--check',
        'revision',
        '--revision',
        rev,
        ...root,
      ]);
      assert.equal(same.code, 1, same.stdout);
      const other = await cli([
        'status',
        '--format',
        'nagios',
        '--check',
        'revision',
        '--revision',
        'f00d',
        ...root,
      ]);
      assert.equal(other.code, 1);
      assert.match(other.stdout, /^REVISION WARNING - /);
      const bgp = await cli(['status', '--format', 'nagios', '--check', 'bgp', ...root]);
      assert.equal(bgp.code, 2, bgp.stdout);
      assert.match(bgp.stdout, /^BGP CRITICAL - BIRD does not answer/);
      const instances = await cli(['status', '--format', 'nagios', ...root]);
      assert.equal(instances.code, 2);
      assert.match(instances.stdout, /^INSTANCES CRITICAL - /);
    });
  });
});
