import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IP } from '../../src/lab/netns.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import type { RolloutResult } from '../../src/rollout/result.ts';
import { BIN } from '../../src/runtime/paths.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { cleanupLab, cli, curlIn, eventually, inNs } from '../lab/lab-client.ts';

// examples/campus (with the client in management.allow, so it may SSH to the nodes) in a git
// repository, brought up as a lab; `intentlb rollout` runs in the client's namespace and drives
// the real ansible-playbook over real SSH into each node's namespace.
const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const PREFIX = 'ilbr-';
const DIR = defaultLabDir(PREFIX);
const NEW_VIP = '198.18.103.99';
const LOADED_VIP = '198.18.100.12'; // wiki, plain HTTP on port 80

describe('intentlb rollout over SSH in the lab', { timeout: 600_000 }, () => {
  let work: string;
  let site: string;
  let state: LabState;
  const client = `${PREFIX}client`;
  const git = (...a: string[]): string =>
    execFileSync('git', ['-C', site, '-c', 'user.email=t@example.org', '-c', 'user.name=t', ...a], {
      encoding: 'utf8',
    }).trim();
  const commit = (msg: string): string => {
    git('add', '-A');
    git('commit', '-qm', msg);
    return git('rev-parse', 'HEAD');
  };
  const applied = (node: string): { commit?: string } =>
    JSON.parse(readFileSync(join(DIR, 'nodes', node, 'var/lib/intentlb/applied.json'), 'utf8')) as {
      commit?: string;
    };
  /** `intentlb <args>` run in the client's namespace through `lab exec` (Ansible finds the lab's inventory). */
  const fromClient = (...args: string[]) =>
    cli(['lab', 'exec', 'client', '--prefix', PREFIX, '--', process.execPath, BIN, ...args]);
  const rollout = async (): Promise<{ code: number; result: RolloutResult; stderr: string }> => {
    const r = await fromClient('rollout', site, '--yes', '--format', 'json');
    let result: RolloutResult;
    try {
      result = JSON.parse(r.stdout) as RolloutResult;
    } catch {
      assert.fail(`rollout printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, result, stderr: r.stderr };
  };

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'bird', 'nft', 'curl', 'sshd', 'ssh', 'ansible-playbook', 'git']) {
      requireTool(t);
    }
    await cleanupLab(PREFIX, DIR);
    work = mkdtempSync(join(tmpdir(), 'intentlb-rollout-lab-'));
    site = join(work, 'site');
    cpSync(CAMPUS, site, { recursive: true });
    const siteYaml = join(site, 'site.yaml');
    writeFileSync(
      siteYaml,
      readFileSync(siteYaml, 'utf8').replace(
        'allow: [198.18.0.0/24]',
        'allow: [198.18.0.0/24, 198.19.0.0/24]',
      ),
    );
    git('init', '-q');
    commit('campus');
    const r = await cli(['lab', 'up', site, '--prefix', PREFIX]);
    assert.equal(r.code, 0, `lab up failed:\n${r.stderr}`);
    state = readState(DIR)!;
  });

  after(async () => {
    // The lab's logs outlive it, for a failure's post-mortem.
    cpSync(join(DIR, 'logs'), join(tmpdir(), 'intentlb-rollout-lab-logs'), { recursive: true, force: true });
    await cleanupLab(PREFIX, DIR);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('lab up runs sshd in each node namespace, on the node address only', async () => {
    for (const n of state.nodes) {
      assert.ok(state.processes.some((p) => p.kind === 'sshd' && p.host === n.name));
    }
    const out = execFileSync(
      IP,
      [
        'netns',
        'exec',
        client,
        'ssh',
        '-i',
        join(DIR, 'ssh/id_ed25519'),
        '-o',
        `UserKnownHostsFile=${join(DIR, 'ssh/known_hosts')}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        'root@198.18.0.11',
        'ip',
        'netns',
        'identify',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(out.trim(), `${PREFIX}lb1`, "the client's ssh lands in lb1's namespace");
  });

  it('a committed new VIP reaches both nodes, with no failed request on another VIP', async () => {
    mkdirSync(join(site, 'services/research'), { recursive: true });
    writeFileSync(
      join(site, 'services/research/newsite.yaml'),
      'fqdn: newsite.campus.example\nbackend:\n  group: gitlab\n  port: 8081\n',
    );
    writeFileSync(
      join(site, 'dns.yaml'),
      `${readFileSync(join(site, 'dns.yaml'), 'utf8')}newsite.campus.example: ${NEW_VIP}\n`,
    );
    const rev = commit('new VIP');
    // The same load without a rollout first: what the lab loses on its own (a loaded machine
    // starves BFD) is not the rollout's doing, and is said in the message.
    const quiet = startLoad(client, LOADED_VIP, join(work, 'quiet.json'));
    await new Promise((r) => setTimeout(r, 8000));
    const baseline = await quiet.stop();
    const t0 = Date.now();
    const load = startLoad(client, LOADED_VIP, join(work, 'load.json'));
    const r = await rollout();
    const counts = await load.stop();
    assert.equal(r.code, 0, JSON.stringify(r.result, null, 2) + r.stderr);
    assert.equal(r.result.revision, rev);
    assert.deepEqual(
      r.result.nodes.map((n) => [n.name, n.state, n.revision]),
      [
        ['lb1', 'verified', rev],
        ['lb2', 'verified', rev],
      ],
    );
    for (const n of ['lb1', 'lb2']) {
      assert.equal(applied(n).commit, rev, `${n} records the commit it runs`);
      const a = await curlIn(`${PREFIX}${n}`, [`http://${NEW_VIP}/`]);
      assert.equal(a.status, 200, `${n} serves the new VIP`);
    }
    await eventually(
      async () => (await curlIn(client, [`http://${NEW_VIP}/`])).status === 200,
      20_000,
      'the client reaches the new VIP',
    );
    assert.ok(counts.ok > 20, `load ran (${counts.ok} ok)`);
    assert.equal(
      counts.failed,
      0,
      `failed requests on ${LOADED_VIP}: ${counts.failed} (${counts.errors.join(', ')}; rollout started ${t0}); ` +
        `without a rollout: ${baseline.failed} of ${baseline.ok + baseline.failed} (${baseline.errors.join(', ')})`,
    );
  });

  it('a change that breaks a service fails verify on the first node: rolled back there, the second untouched', async () => {
    const before1 = applied('lb1').commit;
    const before2 = applied('lb2').commit;
    const lb2Files = readFileSync(join(DIR, 'nodes/lb2/var/lib/intentlb/applied.json'), 'utf8');
    // Nothing listens on 8099: the config is valid and applies, but the service has no server up,
    // so verify fails on lb1.
    writeFileSync(
      join(site, 'services/research/newsite.yaml'),
      'fqdn: newsite.campus.example\nbackend:\n  group: gitlab\n  port: 8099\n',
    );
    commit('move newsite to a port nothing listens on');
    const r = await rollout();
    assert.equal(r.code, 1, JSON.stringify(r.result, null, 2) + r.stderr);
    assert.equal(r.result.ok, false);
    assert.deepEqual(
      r.result.nodes.map((n) => [n.name, n.state]),
      [
        ['lb1', 'rolled_back'],
        ['lb2', 'pending'],
      ],
    );
    assert.match(r.result.nodes[0]!.detail, /research\/newsite/, 'the detail names the failing service');
    assert.equal(applied('lb1').commit, before1, 'lb1 is back on the old commit');
    assert.equal((await curlIn(`${PREFIX}lb1`, [`http://${NEW_VIP}/`])).status, 200, 'lb1 serves again');
    assert.equal(
      readFileSync(join(DIR, 'nodes/lb2/var/lib/intentlb/applied.json'), 'utf8'),
      lb2Files,
      'lb2 was not touched',
    );
    assert.equal(applied('lb2').commit, before2);

    // The fix, committed: rolled out, every node converges and is verified.
    writeFileSync(
      join(site, 'services/research/newsite.yaml'),
      'fqdn: newsite.campus.example\nbackend:\n  group: gitlab\n  port: 8080\n',
    );
    const rev = commit('move newsite to 8080');
    const again = await rollout();
    assert.equal(again.code, 0, JSON.stringify(again.result, null, 2) + again.stderr);
    assert.deepEqual(
      again.result.nodes.map((n) => n.state),
      ['verified', 'verified'],
    );
    for (const n of ['lb1', 'lb2']) assert.equal(applied(n).commit, rev);

    // status --site reads every node through Ansible: both on the commit, no drift, all running.
    const st = await fromClient('status', '--site', site, '--format', 'json');
    assert.equal(st.code, 0, st.stdout + st.stderr);
    const rows = (JSON.parse(st.stdout) as { nodes: { name: string; commit: string; drift: unknown }[] })
      .nodes;
    assert.deepEqual(
      rows.map((x) => [x.name, x.commit, x.drift]),
      [
        ['lb1', rev, { files: 0, actions: 0 }],
        ['lb2', rev, { files: 0, actions: 0 }],
      ],
    );
  });

  it('a rollout killed mid-way leaves each node on the old or the new commit; a re-run converges', async () => {
    const old = applied('lb1').commit;
    assert.equal(applied('lb2').commit, old);
    writeFileSync(
      join(site, 'services/research/killed.yaml'),
      'fqdn: killed.campus.example\nvip: 198.18.103.98\nbackend:\n  group: gitlab\n  port: 8081\n',
    );
    writeFileSync(
      join(site, 'dns.yaml'),
      `${readFileSync(join(site, 'dns.yaml'), 'utf8')}killed.campus.example: 198.18.103.98\n`,
    );
    const rev = commit('a VIP the killed rollout carries');
    const child = spawn(IP, ['netns', 'exec', client, process.execPath, BIN, 'rollout', site, '--yes'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, ANSIBLE_INVENTORY: join(DIR, 'ansible/inventory.yml') },
    });
    const exited = new Promise((r) => child.once('exit', r));
    // Killed while lb1's apply runs (its site is staged), the whole process group at once.
    await eventually(
      () => existsSync(join(DIR, 'nodes/lb1/var/lib/intentlb/sites', rev, 'REVISION')),
      120_000,
      'lb1 staged',
    );
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    // Whatever the node was doing when its connection went away finishes or stops; then each node
    // runs one of the two commits, and its /etc/intentlb is a complete generation.
    await eventually(
      () => !existsSync(join(DIR, 'nodes/lb1/var/lib/intentlb/apply.lock')),
      60_000,
      "lb1's apply is over",
    );
    for (const n of ['lb1', 'lb2']) {
      assert.ok([old, rev].includes(applied(n).commit), `${n} runs ${applied(n).commit}`);
      const etc = join(DIR, 'nodes', n, 'etc/intentlb');
      assert.ok(existsSync(join(etc, 'manifest.json')), `${n}: ${etc} is a complete generation`);
    }
    assert.equal(applied('lb2').commit, old, 'lb2 was not reached');
    const again = await rollout();
    assert.equal(again.code, 0, JSON.stringify(again.result, null, 2) + again.stderr);
    for (const n of ['lb1', 'lb2']) assert.equal(applied(n).commit, rev);
  });

  it('pull mode: a node takes a new commit on its timer, refuses an unsigned one and an older one', async () => {
    const branch = git('rev-parse', '--abbrev-ref', 'HEAD');
    const lb2 = state.nodes.find((n) => n.name === 'lb2')!;
    const pull = (...extra: string[]) => [
      process.execPath,
      BIN,
      'pull',
      site,
      '--node',
      'lb2',
      '--root',
      lb2.root,
      '--branch',
      branch,
      ...extra,
    ];
    const lb1Before = applied('lb1').commit;
    writeFileSync(
      join(site, 'services/research/pulled.yaml'),
      'fqdn: pulled.campus.example\nvip: 198.18.103.97\nbackend:\n  group: gitlab\n  port: 8081\n',
    );
    writeFileSync(
      join(site, 'dns.yaml'),
      `${readFileSync(join(site, 'dns.yaml'), 'utf8')}pulled.campus.example: 198.18.103.97\n`,
    );
    const rev = commit('a VIP lb2 pulls');
    // The timer, shortened: a pull every 2 s in lb2's namespace.
    const loop = spawn(IP, ['netns', 'exec', `${PREFIX}lb2`, ...pull('--every', '2')], { stdio: 'ignore' });
    try {
      await eventually(() => applied('lb2').commit === rev, 120_000, 'lb2 pulls the new commit');
    } finally {
      loop.kill('SIGTERM');
      await new Promise((r) => loop.once('exit', r));
    }
    assert.equal(applied('lb1').commit, lb1Before, 'lb1 does not pull');
    assert.equal((await curlIn(`${PREFIX}lb2`, ['http://198.18.103.97/'])).status, 200);

    // Signing required, the commit unsigned: refused, nothing changes.
    const key = join(work, 'signer');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    writeFileSync(join(work, 'allowed_signers'), `t@example.org ${readFileSync(`${key}.pub`, 'utf8')}`);
    writeFileSync(
      join(site, 'services/research/pulled.yaml'),
      'fqdn: pulled.campus.example\nvip: 198.18.103.97\nbackend:\n  group: gitlab\n  port: 8080\n',
    );
    const unsigned = commit('unsigned');
    const signedOnly = ['--require-signed', '--allowed-signers', join(work, 'allowed_signers')];
    const refused = await inNs(`${PREFIX}lb2`, pull(...signedOnly), 120_000);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.equal(applied('lb2').commit, rev);
    // Signed by the platform's key: taken.
    git('-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`, 'commit', '--amend', '--no-edit', '-S', '-q');
    const signed = git('rev-parse', 'HEAD');
    assert.notEqual(signed, unsigned);
    const taken = await inNs(`${PREFIX}lb2`, pull(...signedOnly), 120_000);
    assert.equal(taken.code, 0, taken.stdout + taken.stderr);
    assert.equal(applied('lb2').commit, signed);
    // The branch moved back: an older commit is refused.
    git('reset', '-q', '--hard', rev);
    const older = await inNs(`${PREFIX}lb2`, pull(), 120_000);
    assert.equal(older.code, 1, older.stdout + older.stderr);
    assert.equal(applied('lb2').commit, signed);
  });
});

/** Sequential HTTP requests from `ns` to `vip` until stopped; counts answers and failures. */
function startLoad(
  ns: string,
  vip: string,
  out: string,
): { stop(): Promise<{ ok: number; failed: number; errors: string[] }> } {
  const script = `
const http = await import('node:http');
const fs = await import('node:fs');
const [vip, out] = process.argv.slice(1);
let ok = 0, failed = 0, stop = false; const errors = [];
process.on('SIGTERM', () => { stop = true; });
while (!stop) {
  await new Promise((resolve) => {
    const req = http.get({ host: vip, port: 80, path: '/', headers: { host: 'wiki.campus.example' }, timeout: 3000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode < 500) ok++; else { failed++; errors.push(Date.now() + ' HTTP ' + res.statusCode); } resolve(); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { failed++; errors.push(Date.now() + ' ' + (e.code ?? e.message)); resolve(); });
  });
  await new Promise((r) => setTimeout(r, 20));
}
fs.writeFileSync(out, JSON.stringify({ ok, failed, errors: errors.slice(0, 10) }));
`;
  const child: ChildProcess = spawn(
    IP,
    ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script, vip, out],
    {
      stdio: 'ignore',
    },
  );
  return {
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () =>
          resolve(JSON.parse(readFileSync(out, 'utf8')) as { ok: number; failed: number; errors: string[] }),
        );
        child.kill('SIGTERM');
      }),
  };
}
