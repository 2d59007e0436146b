// Rollout in the lab: the time from `intentlb rollout` starting (in the client's namespace, over
// real SSH into each node's namespace) to "live on every node" for a one-VIP change, against the
// number of LB nodes and `--serial`, and the same change applied with a plain per-node
// `ssh <node> intentlb apply` one node after the other (what Ansible adds on top).
//
//   node --import tsx bench/lab/rollout.ts [--nodes 2,4,8] [--serial 1,50%] [--runs 1]
//
// Needs root. For each node count, a copy of examples/campus with that many nodes (198.18.0.11 ...)
// and the client in management.allow, in a git repository, is brought up with the prefix ilbrb-;
// the lab always goes down again. Both ways verify the change (`apply --verify`). Prints a row per
// run and the medians; per rollout also the time inside ansible-playbook and each node's span.
// Run `npm run bundle` first: the nodes start bin/intentlb.mjs, which runs tsx on stale bundles.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCli } from '../../src/cli/program.ts';
import { IP } from '../../src/lab/netns.ts';
import { defaultLabDir, readState } from '../../src/lab/state.ts';
import { BIN } from '../../src/runtime/paths.ts';
import { labCleanup } from './cleanup.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PREFIX = 'ilbrb-';
const DIR = defaultLabDir(PREFIX);

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '2,4,8' },
    serial: { type: 'string', default: '1,50%' },
    runs: { type: 'string', default: '1' },
  },
});

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const io = {
    stdout: (s: string) => {
      out += s;
    },
    stderr: (s: string) => {
      out += s;
    },
    cwd: ROOT,
    color: false,
    now: () => new Date(),
  };
  return { code: await runCli(argv, io), out };
}

function sh(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr }),
    );
  });
}

const cleanup = (): Promise<void> => labCleanup(PREFIX, DIR);

function siteWith(n: number, work: string): string {
  const site = join(work, 'site');
  cpSync(join(ROOT, 'examples/campus'), site, { recursive: true });
  const yaml = readFileSync(join(site, 'site.yaml'), 'utf8');
  const nodes = Array.from(
    { length: n },
    (_, i) => `  - { name: lb${i + 1}, address: 198.18.0.${11 + i}, address6: "2001:db8::${11 + i}" }`,
  ).join('\n');
  writeFileSync(
    join(site, 'site.yaml'),
    yaml
      .replace(/nodes:\n(?: {2}- .*\n)+/, `nodes:\n${nodes}\n`)
      .replace('allow: [198.18.0.0/24]', 'allow: [198.18.0.0/24, 198.19.0.0/24]'),
  );
  return site;
}

let vipCounter = 100;
function addVip(site: string): void {
  const i = vipCounter++;
  writeFileSync(
    join(site, `services/research/bench${i}.yaml`),
    `fqdn: bench${i}.campus.example\nvip: 198.18.103.${i}\nbackend:\n  group: gitlab\n  port: 8081\n`,
  );
  writeFileSync(
    join(site, 'dns.yaml'),
    `${readFileSync(join(site, 'dns.yaml'), 'utf8')}bench${i}.campus.example: 198.18.103.${i}\n`,
  );
}

async function git(site: string, ...args: string[]): Promise<void> {
  const r = await sh('git', ['-C', site, '-c', 'user.email=b@example.org', '-c', 'user.name=b', ...args]);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.out}`);
}

const rows: string[] = [];
const samples = new Map<string, number[]>();
function record(key: string, ms: number): void {
  samples.set(key, [...(samples.get(key) ?? []), ms]);
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
try {
  await cleanup();
  for (const n of values.nodes.split(',').map(Number)) {
    const work = mkdtempSync(join(tmpdir(), 'intentlb-bench-rollout-'));
    try {
      const site = siteWith(n, work);
      await git(site, 'init', '-q');
      await git(site, 'add', '-A');
      await git(site, 'commit', '-qm', 'bench');
      const t0 = Date.now();
      const up = await cli(['lab', 'up', site, '--prefix', PREFIX]);
      if (up.code !== 0) throw new Error(`lab up (${n} nodes): ${up.out}`);
      process.stderr.write(
        `# lab up with ${n} nodes: ${Date.now() - t0} ms, load ${loadavg()[0]!.toFixed(1)}\n`,
      );
      for (let run = 0; run < Number(values.runs); run++) {
        for (const serial of values.serial.split(',')) {
          addVip(site);
          await git(site, 'add', '-A');
          await git(site, 'commit', '-qm', 'one VIP');
          const t = Date.now();
          const r = await cli([
            'lab',
            'exec',
            'client',
            '--prefix',
            PREFIX,
            '--',
            process.execPath,
            BIN,
            'rollout',
            site,
            '--yes',
            '--serial',
            serial,
          ]);
          const ms = Date.now() - t;
          const ok = r.code === 0 && !/failed|rolled_back|pending/.test(r.out);
          // "rollout <rev> (serial 1), 9.8 s" then "lb1  verified  hh:mm:ss → hh:mm:ss  4.1 s  ..."
          const inside = /\), ([\d.]+) s\n/.exec(r.out)?.[1] ?? '?';
          const spans = [...r.out.matchAll(/^(lb\d+)\s+\w+\s+\S+ → \S+\s+([\d.]+) s/gm)].map((m) => m[2]);
          record(`${n} | rollout --serial ${serial}`, ms);
          rows.push(
            `| ${n} | rollout --serial ${serial} | ${(ms / 1000).toFixed(1)} s | ${ok ? 'ok' : 'FAILED'} | ${loadavg()[0]!.toFixed(1)} | ansible-playbook ${inside} s; per node ${spans.join(', ')} s |`,
          );
          if (!ok) process.stderr.write(r.out);
          process.stderr.write(`${rows.at(-1)}\n`);
        }
        // The same kind of change, applied node after node with a plain ssh + intentlb apply.
        addVip(site);
        await git(site, 'add', '-A');
        await git(site, 'commit', '-qm', 'one VIP (plain)');
        const s = readState(DIR)!;
        const t = Date.now();
        let ok = true;
        for (const node of s.nodes) {
          const host = s.topology.hosts.find((h) => h.name === node.name)!;
          const r = await sh(IP, [
            'netns',
            'exec',
            `${PREFIX}client`,
            'ssh',
            '-i',
            join(DIR, 'ssh/id_ed25519'),
            '-o',
            `UserKnownHostsFile=${join(DIR, 'ssh/known_hosts')}`,
            '-o',
            'BatchMode=yes',
            `root@${host.addresses[0]!.address}`,
            process.execPath,
            BIN,
            'apply',
            site,
            '--node',
            node.name,
            '--root',
            node.root,
            '--yes',
            '--verify',
          ]);
          ok &&= r.code === 0;
        }
        const ms = Date.now() - t;
        record(`${n} | plain ssh apply --verify, node after node`, ms);
        rows.push(
          `| ${n} | plain ssh apply --verify, node after node | ${(ms / 1000).toFixed(1)} s | ${ok ? 'ok' : 'FAILED'} | ${loadavg()[0]!.toFixed(1)} | |`,
        );
        process.stderr.write(`${rows.at(-1)}\n`);
      }
    } finally {
      await cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  }
} finally {
  await cleanup();
}
process.stdout.write(
  `| nodes | how | start → live and verified on every node | result | load (1 min) | where |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n\n`,
);
process.stdout.write('| nodes | how | runs | median | ratio to plain |\n|---|---|---|---|---|\n');
for (const [key, xs] of samples) {
  const n = key.split(' | ')[0]!;
  const plain = samples.get(`${n} | plain ssh apply --verify, node after node`);
  const ratio = plain === undefined ? '' : `${(median(xs) / median(plain)).toFixed(2)} ×`;
  process.stdout.write(`| ${key} | ${xs.length} | ${(median(xs) / 1000).toFixed(1)} s | ${ratio} |\n`);
}
