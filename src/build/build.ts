import { chmodSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { errnoCode, isMissing } from '../errors.ts';
import type { Model } from '../model/index.ts';
import { intentRevision, renderNode } from '../render/node.ts';
import { fileMode } from '../render/secrets.ts';
import { SharedParts } from '../render/shared.ts';
import { renderSiteFiles, SITE_DIR } from '../render/site.ts';
import { DEFAULT_LAYOUT, type NodeLayout, type RenderedFile } from '../render/types.ts';
import { findTool, pool } from './run-tool.ts';
import { allValidators, type Validator } from './validators.ts';

export interface Rejection {
  node: string;
  path: string;
  tool: string;
  output: string;
}

export interface BuildReport {
  nodes: { name: string; files: RenderedFile[] }[];
  rejections: Rejection[];
  /** Tools that were not installed, so their files went unchecked. */
  skipped: string[];
  validated: number;
}

/** Renders every node of the model (pure). */
export function renderSite(
  model: Model,
  sources: ReadonlyMap<string, string>,
  certs: readonly { path: string; pem: string }[],
  layout: NodeLayout = DEFAULT_LAYOUT,
): { name: string; files: RenderedFile[] }[] {
  const rev = intentRevision(sources, certs);
  const shared = new SharedParts();
  return model.site.nodes.map((n) => ({ name: n.name, files: renderNode(model, n, layout, rev, shared) }));
}

export function writeFiles(dir: string, files: readonly RenderedFile[]): void {
  for (const f of files) {
    const p = join(dir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    const mode = fileMode(f.path);
    writeFileSync(p, f.content, { mode });
    chmodSync(p, mode); // `mode` only applies to a file that did not exist yet
  }
}

/**
 * Everything `build` writes (pure): each node's folder, then the site's own ({@link SITE_DIR}:
 * monitoring for the Icinga master and the Prometheus server).
 */
export function renderBuild(
  model: Model,
  sources: ReadonlyMap<string, string>,
  certs: readonly { path: string; pem: string }[],
  layout: NodeLayout = DEFAULT_LAYOUT,
): { name: string; files: RenderedFile[] }[] {
  return [
    ...renderSite(model, sources, certs, layout),
    { name: SITE_DIR, files: renderSiteFiles(model, intentRevision(sources, certs)) },
  ];
}

/**
 * Writes the nodes into a scratch folder, checks every file with its real tool (in parallel),
 * and only when all pass replaces `out/<node>/` folders. On any rejection nothing is written.
 */
export async function buildSite(
  nodes: { name: string; files: RenderedFile[] }[],
  outDir: string,
  opts: { validate: boolean; concurrency?: number } = { validate: true },
): Promise<BuildReport> {
  const scratch = mkdtempSync(join(tmpdir(), 'intentlb-build-'));
  try {
    const skipped = new Set<string>();
    const rejections: Rejection[] = [];
    let validated = 0;
    const concurrency = opts.concurrency ?? availableParallelism();
    const jobs: { node: string; nodeDir: string; unit: string[]; v: Validator }[] = [];
    for (const n of nodes) {
      const nodeDir = join(scratch, n.name);
      writeFiles(nodeDir, n.files);
      if (!opts.validate) continue;
      for (const v of allValidators()) {
        const units = v.units(n.files.map((f) => f.path));
        if (units.length === 0) continue;
        if (findTool(v.tool) === undefined) {
          skipped.add(v.tool);
          continue;
        }
        for (const unit of units) jobs.push({ node: n.name, nodeDir, unit, v });
      }
    }
    const results = await pool(jobs, concurrency, async (j) => ({
      j,
      r: await j.v.validate(j.unit, j.nodeDir, concurrency),
    }));
    for (const { j, r } of results) {
      validated += j.unit.length;
      for (const x of r)
        rejections.push({
          node: j.node,
          path: x.path,
          tool: j.v.tool,
          output: x.output.replaceAll(scratch, 'out'),
        });
    }
    if (rejections.length === 0) {
      mkdirSync(outDir, { recursive: true });
      for (const n of nodes) replaceDir(join(scratch, n.name), join(outDir, n.name));
    }
    return { nodes, rejections, skipped: [...skipped].sort(), validated };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Swaps a finished folder into place: the old one is moved aside first, then removed. */
function replaceDir(from: string, to: string): void {
  const old = `${to}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  let hadOld = false;
  try {
    renameSync(to, old);
    hadOld = true;
  } catch (err) {
    if (!isMissing(err)) throw err; // else: no previous build
  }
  try {
    renameSync(from, to);
  } catch (err) {
    if (errnoCode(err) !== 'EXDEV') throw err;
    // scratch on another file system
    cpSync(from, to, { recursive: true });
  }
  if (hadOld) rmSync(old, { recursive: true, force: true });
}
