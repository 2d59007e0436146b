import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '../../src/compile.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { Model } from '../../src/model/index.ts';
import { renderBird } from '../../src/render/bird/index.ts';
import { DEFAULT_LAYOUT, type Renderer } from '../../src/render/types.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;

/** The bundled example site, compiled as of a fixed date (goldens never drift with the clock). */
export async function campus(): Promise<Model> {
  const l = load(diskFs(CAMPUS));
  const { model } = await compile(l.value, { now: new Date('2026-11-22T00:00:00Z') });
  assert.ok(model, 'examples/campus compiles');
  return model;
}

/** Renders one target for a node and asserts it writes `path` (and nothing unexpected); returns the text. */
export function renderOne(renderer: Renderer, model: Model, path: string, nodeName = 'lb1'): string {
  const node = model.site.nodes.find((n) => n.name === nodeName)!;
  const files = renderer(model, node, DEFAULT_LAYOUT);
  const expected = path === 'bird/intentlb.conf' ? [path, 'bird/vip-state.conf'] : [path];
  assert.deepEqual(
    files.map((f) => f.path),
    expected,
  );
  return files[0]!.content;
}

/**
 * Writes a node's BIRD configuration as `<dir>/<name>` and, beside it, the all-disabled state file
 * it includes (`vip-state.conf`); returns the configuration's path.
 */
export function writeBirdFiles(dir: string, model: Model, nodeName = 'lb1', name = 'intentlb.conf'): string {
  const node = model.site.nodes.find((n) => n.name === nodeName)!;
  for (const f of renderBird(model, node, DEFAULT_LAYOUT)) {
    writeFileSync(
      join(dir, f.path === 'bird/intentlb.conf' ? name : f.path.slice('bird/'.length)),
      f.content,
    );
  }
  return join(dir, name);
}
