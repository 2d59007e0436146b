// `intentlb verify` from the lab's client, timed as an operator sees it (the CLI as a process,
// wall clock), on examples/campus and on a generated site of N VIPs (default 150) served by two
// anycast nodes. Target: a site of 150 VIPs verifies in under 10 s.
//
//   node --import tsx bench/verify/run.ts [--vips N] [--runs N] [--campus-only | --generated-only]
//
// Run `npm run bundle` first: with sources newer than the bundle every intentlb process (the
// nodes' healthd too) starts through tsx, which under load is slower than apply waits for.
//
// Needs root. Uses its own namespace prefix (ilbv-bench-) and removes everything it made, also on failure.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IP } from '../../src/lab/netns.ts';
import { defaultLabDir, readState } from '../../src/lab/state.ts';
import { labCleanup } from '../lab/cleanup.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PREFIX = 'ilbv-bench-';
const DIR = defaultLabDir(PREFIX);

const { values } = parseArgs({
  options: {
    vips: { type: 'string', default: '150' },
    runs: { type: 'string', default: '3' },
    'campus-only': { type: 'boolean', default: false },
    'generated-only': { type: 'boolean', default: false },
  },
});

function run(
  cmd: string,
  args: string[],
  timeout = 300_000,
): Promise<{ ms: number; code: number; out: string; err: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: ROOT, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 },
      (e, out, err) =>
        resolve({
          ms: performance.now() - t0,
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1,
          out,
          err,
        }),
    );
  });
}

const cleanup = (): Promise<void> => labCleanup(PREFIX, DIR);

/** A site of `n` HTTPS VIPs (one per service) on two anycast nodes, one HAProxy per team. */
function generated(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'ilbv-bench-site-'));
  cpSync(join(ROOT, 'examples/campus/certs'), join(dir, 'certs'), { recursive: true });
  cpSync(join(ROOT, 'examples/campus/site.yaml'), join(dir, 'site.yaml'));
  writeFileSync(
    join(dir, 'site.yaml'),
    [
      'site: bench',
      'nodes:',
      '  - { name: lb1, address: 198.18.0.11 }',
      '  - { name: lb2, address: 198.18.0.12 }',
      'ha: { mode: anycast, bgp: { local_as: 65001, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }], bfd: fast } }',
      'tls: { policy: intermediate, certs: certs, hsts: true }',
      'instances: per-group',
      'teams:',
      '  web: { path: web, vip_pools: [198.18.100.0/22], ports: [80, 443] }',
      'management: { allow: [198.18.0.0/24] }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'inventory.yaml'),
    'groups:\n  www:\n    hosts: { web1: 198.18.10.11, web2: 198.18.10.12 }\n',
  );
  const dns: string[] = [];
  mkdirSync(join(dir, 'services/web'), { recursive: true });
  writeFileSync(join(dir, 'services/web/defaults.yaml'), 'ssl: true\nbackend: { group: www, port: 8080 }\n');
  for (let i = 0; i < n; i++) {
    const name = `s${String(i).padStart(3, '0')}.campus.example`;
    const vip = `198.18.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
    dns.push(`${name}: ${vip}`);
    writeFileSync(
      join(dir, `services/web/s${String(i).padStart(3, '0')}.yaml`),
      `fqdn: ${name}\nvip: ${vip}\n`,
    );
  }
  writeFileSync(join(dir, 'dns.yaml'), `${dns.join('\n')}\n`);
  return dir;
}

async function bench(site: string, label: string, runs: number): Promise<void> {
  await cleanup();
  const up = await run(process.execPath, [`${ROOT}bin/intentlb.mjs`, 'lab', 'up', site, '--prefix', PREFIX]);
  if (up.code !== 0) throw new Error(`lab up ${label}: ${up.err.slice(-2000)}`);
  try {
    const bird = readState(DIR)!.router.socket;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await run(IP, [
        'netns',
        'exec',
        `${PREFIX}client`,
        process.execPath,
        `${ROOT}bin/intentlb.mjs`,
        'verify',
        site,
        '--format',
        'json',
        '--bird',
        bird,
        '--roots',
        join(DIR, 'nodes'),
      ]);
      const report = JSON.parse(r.out) as {
        ok: boolean;
        results: { ok: boolean; service: string; check: string; detail: string }[];
      };
      const failed = report.results.filter((x) => !x.ok);
      times.push(r.ms);
      console.log(
        `${label}: run ${i + 1}: ${report.results.length} checks in ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}, ${failed.length} failed${
          failed.length > 0
            ? ` (${failed
                .slice(0, 3)
                .map((f) => `${f.service} ${f.check}: ${f.detail}`)
                .join('; ')})`
            : ''
        }; load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
    times.sort((a, b) => a - b);
    console.log(
      `${label}: median ${(times[Math.floor(times.length / 2)]! / 1000).toFixed(1)} s (min ${(times[0]! / 1000).toFixed(1)}, max ${(times.at(-1)! / 1000).toFixed(1)}) on ${cpus().length} CPUs`,
    );
  } finally {
    await cleanup();
  }
}

const runs = Number(values.runs);
if (!values['generated-only']) await bench(join(ROOT, 'examples/campus'), 'examples/campus (16 VIPs)', runs);
if (!values['campus-only']) {
  const site = generated(Number(values.vips));
  try {
    await bench(site, `generated (${values.vips} VIPs)`, runs);
  } finally {
    rmSync(site, { recursive: true, force: true });
  }
}
