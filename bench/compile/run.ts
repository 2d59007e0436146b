// Compile and build benchmarks (run on demand: npm run bench:compile). Writes a markdown table to
// stdout; paste into docs/benchmarks.md with the command and the machine.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSite, renderSite } from '../../src/build/build.ts';
import { findTool, pool } from '../../src/build/run-tool.ts';
import { compile } from '../../src/compile.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { sha256 } from '../../src/render/node.ts';
import { generateSite } from './generate.ts';

const now = new Date('2026-11-22T00:00:00Z');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number): string => `${n.toFixed(0)} ms`;

async function time<T>(runs: number, fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = await fn();
    t.push(performance.now() - t0);
  }
  return { ms: median(t), value };
}

const rows: string[] = [];
const root = mkdtempSync(join(tmpdir(), 'intentlb-bench-'));
try {
  for (const n of [100, 1000, 10_000]) {
    const dir = join(root, `s${n}`);
    generateSite(dir, { services: n, groups: Math.max(20, n / 10), serversPerGroup: 10 });
    const runs = n >= 10_000 ? 5 : 9;
    const check = await time(runs, async () => {
      const l = load(diskFs(dir));
      return { l, c: await compile(l.value, { now }) };
    });
    const { l, c } = check.value;
    if (!c.model) throw new Error(`site of ${n} does not compile: ${c.diagnostics[0]?.message}`);
    const model = c.model;
    const render = await time(runs, () => {
      const nodes = renderSite(model, l.value.sources, l.value.certs);
      for (const node of nodes) for (const f of node.files) sha256(f.content);
      return nodes;
    });
    rows.push(
      `| ${n.toLocaleString('en')} services × 10 servers | load → check ${ms(check.ms)} | build (render + hash, 2 nodes, no validation) ${ms(render.ms)} |`,
    );
  }

  // Paderborn's size: 150 VIPs, 20 backend groups × 10 servers, built and validated with haproxy -c.
  const dir = join(root, 'paderborn');
  generateSite(dir, { services: 150, groups: 20, serversPerGroup: 10 });
  const out = join(root, 'paderborn-out');
  const full = await time(3, async () => {
    const l = load(diskFs(dir));
    const c = await compile(l.value, { now });
    const nodes = renderSite(c.model!, l.value.sources, l.value.certs);
    return buildSite(nodes, out, { validate: true });
  });
  if (full.value.rejections.length > 0) throw new Error(full.value.rejections[0]!.output);
  const l = load(diskFs(dir));
  const c = await compile(l.value, { now });
  const renderOnly = await time(9, () => renderSite(c.model!, l.value.sources, l.value.certs));
  const haproxy = findTool('haproxy');
  let haproxyLine = 'haproxy not installed';
  if (haproxy) {
    const cfgs = renderOnly.value[0]!.files.filter((f) => f.path.startsWith('haproxy/')).map((f) => f.path);
    const serial = await time(3, () => {
      for (const p of cfgs) execFileSync(haproxy, ['-c', '-q', '-f', join(out, 'lb1', p)]);
    });
    const parallel = await time(3, () =>
      pool(cfgs, cpus().length, async (p) => execFileSync(haproxy, ['-c', '-q', '-f', join(out, 'lb1', p)])),
    );
    // Render time of one node vs haproxy -c of the same node's files, serially.
    const oneNode = renderOnly.ms / 2;
    haproxyLine = `render of one node ${ms(oneNode)} vs haproxy -c of its ${cfgs.length} files ${ms(serial.ms)} serial / ${ms(parallel.ms)} on ${cpus().length} cores: ratio ${(oneNode / serial.ms).toFixed(3)}`;
  }
  rows.push(
    `| 150 VIPs (20 groups × 10 servers), 2 nodes | full build incl. haproxy -c of ${full.value.validated} files: ${ms(full.ms)} | ${haproxyLine} |`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}

console.log(
  `Machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, Node ${process.version}. Medians.\n`,
);
console.log('| site | check | build |');
console.log('|---|---|---|');
for (const r of rows) console.log(r);
