// Rollout in the lab: the time from `intentlb rollout` starting (in the client's namespace, over
// real SSH into each node's namespace) to "live on every node" for a one-VIP change, against the
// number of LB nodes and `--serial`, and the same change applied with a plain per-node
// `ssh <node> intentlb apply` one node after the other (what Ansible adds on top).
//
//   node --import tsx bench/lab/rollout.ts [--nodes 2,4,8] [--serial 1,50%] [--runs 1]
//
// Needs root. For each node count, a copy of examples/campus with that many nodes (198.18.0.11 ...)
// and the client in management.allow, in a git repository, is brought up with the prefix ilbb-;
// the lab always goes down again. `--no-verify` until `intentlb verify` is in the tree.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCli } from '../../src/cli/program.ts';
import { labDown } from '../../src/lab/lab.ts';
import { IP, listNamespaces } from '../../src/lab/netns.ts';
import { sweepNamespaces } from '../../src/lab/processes.ts';
import { defaultLabDir, readState } from '../../src/lab/state.ts';
import { unwire } from '../../src/lab/wiring.ts';
import { BIN } from '../../src/runtime/paths.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PREFIX = 'ilbb-';
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

async function cleanup(): Promise<void> {
  try {
    await labDown({ prefix: PREFIX, dir: DIR });
  } finally {
    const left = listNamespaces().filter((n) => n.startsWith(PREFIX));
    await sweepNamespaces(left);
    await unwire(left);
  }
}

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
            '--no-verify',
            '--serial',
            serial,
            '--format',
            'json',
          ]);
          const ms = Date.now() - t;
          const ok = r.code === 0;
          rows.push(
            `| ${n} | rollout --serial ${serial} | ${(ms / 1000).toFixed(1)} s | ${ok ? 'ok' : 'FAILED'} | ${loadavg()[0]!.toFixed(1)} |`,
          );
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
          ]);
          ok &&= r.code === 0;
        }
        const ms = Date.now() - t;
        rows.push(
          `| ${n} | plain ssh apply, node after node | ${(ms / 1000).toFixed(1)} s | ${ok ? 'ok' : 'FAILED'} | ${loadavg()[0]!.toFixed(1)} |`,
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
  `| nodes | how | rollout start → live on every node | result | load (1 min) |\n|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
