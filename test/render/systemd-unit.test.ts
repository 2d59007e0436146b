import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runTool } from '../../src/build/run-tool.ts';
import { RenderRefusal } from '../../src/render/quote/refusal.ts';
import { renderSystemd } from '../../src/render/systemd/unit.ts';
import { DEFAULT_LAYOUT, type NodeLayout } from '../../src/render/types.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

const unit = (layout: NodeLayout = DEFAULT_LAYOUT): string =>
  renderSystemd(null as never, null as never, layout)[0]!.content;

async function verify(content: string): Promise<{ ok: boolean; output: string }> {
  const analyze = requireTool('systemd-analyze');
  return withTempDir(async (dir) => {
    // An instance of the template, as systemd would load it for `haproxy@web`.
    const file = join(dir, 'haproxy@web.service');
    writeFileSync(file, content);
    return runTool(analyze, ['verify', file], { timeoutMs: 60_000 });
  });
}

describe('haproxy@.service', () => {
  it('stops softly: SIGUSR1 to the master, SIGKILL only after the longest hard-stop-after', () => {
    const u = unit();
    assert.match(u, /\nKillSignal=SIGUSR1\n/);
    assert.match(u, /\nKillMode=mixed\n/);
    assert.match(u, /\nTimeoutStopSec=11min\n/, 'above hard-stop-after 10m of TCP instances');
  });

  it('finds haproxy on systemd’s search path instead of a fixed /usr/sbin', () => {
    const exec = unit()
      .split('\n')
      .filter((l) => l.startsWith('Exec') && l.includes('haproxy -Ws'));
    assert.equal(exec.length, 3);
    for (const l of exec) assert.match(l, /^Exec\w+=haproxy -Ws /);
  });

  it('systemd-analyze verify accepts the unit, and rejects a broken one', async () => {
    const good = await verify(unit());
    assert.ok(good.ok, good.output);
    assert.equal(good.output.trim(), '', good.output);
    const bad = await verify(unit().replace('KillSignal=SIGUSR1', 'KillSignal=SIGNOPE'));
    assert.match(bad.output, /SIGNOPE/);
    // verify resolves the bare `haproxy` on the search path: a missing command is reported.
    const missing = await verify(unit().replaceAll('=haproxy -Ws', '=haproxy-missing -Ws'));
    assert.equal(missing.ok, false, missing.output);
  });

  it('refuses a layout path that systemd would split or expand', () => {
    for (const run of ['/run/intent lb', '/run/%n', '/run/$X', 'run']) {
      assert.throws(() => unit({ ...DEFAULT_LAYOUT, run }), RenderRefusal);
    }
  });
});
