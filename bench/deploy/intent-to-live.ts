/**
 * Intent-to-live: from saving a one-VIP change in the site to the new configuration serving.
 *
 *   node --import tsx bench/deploy/intent-to-live.ts [--runs 20] [--vips 20]
 *
 * In a throwaway namespace: lab backends, `intentlb supervise` and `intentlb apply --watch` (the
 * real pipeline: check, render, validate with haproxy -c, write a generation, reload, verify).
 * Each run rewrites one service file with a new redirect target and polls that VIP (every 2 ms)
 * until the redirect answers; the time from the write to that answer is one sample. The other
 * VIPs are there so the site is not trivially small.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  addLoopbackAddresses,
  addNamespace,
  deleteNamespace,
  IP,
  nsSpawn,
  stopProcess,
  uniqueName,
} from '../../src/lab/netns.ts';
import { waitForLine } from '../../test/helpers/ns-fixture.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/intentlb.mjs');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    vips: { type: 'string', default: '20' },
    inner: { type: 'boolean', default: false },
    site: { type: 'string' },
  },
});
const runs = Number(values.runs);
const vips = Number(values.vips);
const vip = (i: number): string => `198.18.50.${10 + i}`;

function service(i: number, target: string): string {
  return [
    `fqdn: s${i}.bench.example`,
    `vip: ${vip(i)}`,
    'backend: { group: web }',
    `redirects: [{ path_prefix: /probe, to: "${target}", code: 302 }]`,
    '',
  ].join('\n');
}

function location(host: string): Promise<string | null> {
  return new Promise((done) => {
    const req = request({ host, port: 80, path: '/probe', timeout: 500, agent: false }, (res) => {
      res.resume();
      done((res.headers.location as string | undefined) ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(null));
    req.end();
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** Inside the namespace: change, then poll until the new redirect answers. */
async function inner(site: string): Promise<void> {
  const samples: number[] = [];
  for (let r = 1; r <= runs; r++) {
    const target = `https://example.org/v${r}`;
    const t0 = performance.now();
    writeFileSync(join(site, 'services/s0.yaml'), service(0, target));
    const deadline = t0 + 15_000;
    let seen = false;
    while (performance.now() < deadline) {
      if ((await location(vip(0))) === target) {
        seen = true;
        break;
      }
      await new Promise((res) => setTimeout(res, 2));
    }
    if (!seen) throw new Error(`run ${r}: the change did not go live within 15 s`);
    samples.push(performance.now() - t0);
    await new Promise((res) => setTimeout(res, 300)); // let the watcher settle between runs
  }
  process.stdout.write(`${JSON.stringify({ samples })}\n`);
}

async function outer(): Promise<void> {
  const ns = uniqueName('ilbb');
  const dir = mkdtempSync(join(tmpdir(), 'intentlb-i2l-'));
  const children: ReturnType<typeof spawn>[] = [];
  addNamespace(ns);
  try {
    const addresses = [
      '198.18.0.11',
      '198.18.60.11',
      '198.18.60.12',
      ...Array.from({ length: vips }, (_, i) => vip(i)),
    ];
    addLoopbackAddresses(ns, addresses);
    const site = join(dir, 'site');
    mkdirSync(join(site, 'services'), { recursive: true });
    cpSync(join(ROOT, 'test/integration/sites/deploy/site.yaml'), join(site, 'site.yaml'));
    cpSync(join(ROOT, 'test/integration/sites/deploy/inventory.yaml'), join(site, 'inventory.yaml'));
    cpSync(
      join(ROOT, 'test/integration/sites/deploy/services/defaults.yaml'),
      join(site, 'services/defaults.yaml'),
    );
    for (let i = 0; i < vips; i++)
      writeFileSync(join(site, `services/s${i}.yaml`), service(i, 'https://example.org/v0'));
    const root = join(dir, 'root');
    for (const [host, addr] of [
      ['web1', '198.18.60.11'],
      ['web2', '198.18.60.12'],
    ] as const) {
      const b = nsSpawn(
        ns,
        process.execPath,
        ['--import', 'tsx', 'src/lab/backend/main.ts', '--host', host, '--listen', `http:${addr}:8080`],
        { cwd: ROOT },
      );
      children.push(b);
      await waitForLine(b, (l) => l.includes('"ready"'), 15_000, host);
    }
    const sup = nsSpawn(ns, process.execPath, [BIN, 'supervise', '--root', root]);
    children.push(sup);
    await waitForLine(sup, (l) => l.includes('"listening"'), 15_000, 'supervisor');
    const watcher = nsSpawn(ns, process.execPath, [
      BIN,
      'apply',
      site,
      '--node',
      'lb1',
      '--root',
      root,
      '--watch',
    ]);
    children.push(watcher);
    await waitForLine(watcher, (l) => l.startsWith('watching'), 60_000, 'apply --watch');
    const probe = spawn(
      IP,
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        'tsx',
        new URL(import.meta.url).pathname,
        '--inner',
        '--site',
        site,
        '--runs',
        String(runs),
        '--vips',
        String(vips),
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(probe);
    const line = await waitForLine(probe, (l) => l.startsWith('{'), 30_000 + runs * 16_000, 'probe');
    const { samples } = JSON.parse(line) as { samples: number[] };
    console.log(
      `intent-to-live, ${vips} VIPs, ${runs} one-VIP changes (apply --watch: check, render, haproxy -c, write, reload, verify)`,
    );
    console.log(
      `  p50 ${median(samples).toFixed(0)} ms   p90 ${pct(samples, 90).toFixed(0)} ms   min ${Math.min(...samples).toFixed(0)} ms   max ${Math.max(...samples).toFixed(0)} ms`,
    );
  } finally {
    for (const c of children.reverse()) await stopProcess(c, 10_000);
    deleteNamespace(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.inner) await inner(values.site!);
else await outer();
