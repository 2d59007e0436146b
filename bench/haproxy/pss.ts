// Idle memory of HAProxy: one per-VIP instance vs one `single` instance serving the same 150 VIPs
// (Paderborn's size). Runs both for real in a throwaway network namespace and reads PSS of the
// master and worker from /proc/<pid>/smaps_rollup. Usage: node --import tsx bench/haproxy/pss.ts
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSite, writeFiles } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import {
  addLoopbackAddresses,
  addNamespace,
  deleteNamespace,
  nsSpawn,
  stopProcess,
  uniqueName,
} from '../../src/lab/netns.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { NodeLayout } from '../../src/render/types.ts';
import { generateSite } from '../compile/generate.ts';

const root = mkdtempSync(join(tmpdir(), 'intentlb-pss-'));
const ns = uniqueName('ilbb');
const children: ReturnType<typeof nsSpawn>[] = [];

function kb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'),
  );
  return Number(m?.[1] ?? 0);
}

/** PSS and USS (private pages: what each extra process really adds). */
function pssKb(pid: number): number {
  return kb(pid, 'Pss');
}
function ussKb(pid: number): number {
  return kb(pid, 'Private_Clean') + kb(pid, 'Private_Dirty');
}

/** The master and its worker(s): the master's children. */
function familyPss(masterPid: number, read: (pid: number) => number = pssKb): number {
  let total = read(masterPid);
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === masterPid) total += read(Number(p));
    } catch {
      // gone
    }
  }
  return total;
}

async function run(mode: 'per-vip' | 'single'): Promise<{ instances: number; pssKb: number; ussKb: number }> {
  const dir = join(root, mode);
  generateSite(dir, { services: 150, groups: 20, serversPerGroup: 10 });
  const site = readFileSync(join(dir, 'site.yaml'), 'utf8').replace(
    'instances: per-vip',
    `instances: ${mode}`,
  );
  writeFileSync(join(dir, 'site.yaml'), site);
  const l = load(diskFs(dir));
  const c = await compile(l.value, { now: new Date() });
  if (!c.model) throw new Error(c.diagnostics[0]?.message);
  const layout: NodeLayout = { etc: join(dir, 'etc'), run: join(dir, 'run'), state: join(dir, 'state') };
  for (const d of [layout.run, layout.state]) mkdirSync(join(d, 'haproxy'), { recursive: true });
  const [node] = renderSite(c.model, l.value.sources, l.value.certs, layout);
  writeFiles(layout.etc, node!.files);
  const inst = c.model.instances[0]!;
  const child = nsSpawn(ns, '/usr/sbin/haproxy', [
    '-W',
    '-db',
    '-f',
    join(layout.etc, 'haproxy', `${inst.name}.cfg`),
  ]);
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise((r) => setTimeout(r, 3000)); // settle: checks started, pools allocated
  if (child.exitCode !== null) throw new Error(`haproxy exited: ${err}`);
  const pss = familyPss(child.pid!);
  const uss = familyPss(child.pid!, ussKb);
  await stopProcess(child);
  return { instances: c.model.instances.length, pssKb: pss, ussKb: uss };
}

try {
  addNamespace(ns);
  const vips = Array.from({ length: 150 }, (_, i) => `198.18.${100 + Math.floor(i / 256)}.${i % 256}`);
  addLoopbackAddresses(ns, [...vips, '198.18.0.11']);
  const perVip = await run('per-vip');
  const single = await run('single');
  const haproxyVersion = execFileSync('/usr/sbin/haproxy', ['-v']).toString().split('\n')[0];
  console.log(
    `Machine: ${cpus()[0]?.model}, ${cpus().length} cores; ${haproxyVersion}. Idle, 3 s after start.\n`,
  );
  const mib = (k: number): string => `${(k / 1024).toFixed(1)} MiB`;
  console.log('| HAProxy (master + worker), alone on the machine | PSS | USS (private) |');
  console.log('|---|---|---|');
  console.log(
    `| one per-VIP instance (1 of ${perVip.instances}) | ${mib(perVip.pssKb)} | ${mib(perVip.ussKb)} |`,
  );
  console.log(
    `| one \`single\` instance serving all ${perVip.instances} VIPs | ${mib(single.pssKb)} | ${mib(single.ussKb)} |`,
  );
  console.log(
    `| ${perVip.instances} per-VIP instances, estimated: ${perVip.instances} × USS + the shared part once | ${mib(perVip.instances * perVip.ussKb + (perVip.pssKb - perVip.ussKb))} | |`,
  );
} finally {
  await Promise.all(children.map((c) => stopProcess(c)));
  deleteNamespace(ns);
  rmSync(root, { recursive: true, force: true });
}
