import assert from 'node:assert/strict';
import { compile } from '../../src/compile.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { Model } from '../../src/model/index.ts';
import { DEFAULT_LAYOUT, type Renderer } from '../../src/render/types.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;

/** The bundled example site, compiled as of a fixed date (goldens never drift with the clock). */
export async function campus(): Promise<Model> {
  const l = load(diskFs(CAMPUS));
  const { model } = await compile(l.value, { now: new Date('2026-11-22T00:00:00Z') });
  assert.ok(model, 'examples/campus compiles');
  return model;
}

/** Renders one target for a node and asserts it writes exactly `path`; returns the text. */
export function renderOne(renderer: Renderer, model: Model, path: string, nodeName = 'lb1'): string {
  const node = model.site.nodes.find((n) => n.name === nodeName)!;
  const files = renderer(model, node, DEFAULT_LAYOUT);
  assert.deepEqual(
    files.map((f) => f.path),
    [path],
  );
  return files[0]!.content;
}
