import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runTool } from '../../src/build/run-tool.ts';
import {
  decideFor,
  decidePull,
  exportSite,
  fetchBranch,
  PullError,
  pullRepo,
  verifyCommit,
} from '../../src/rollout/pull.ts';
import { renderPullUnits } from '../../src/rollout/pull-units.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

describe('pull: which commit a node takes', () => {
  // History: a <- b <- c, and a <- x (a branch that does not contain b or c).
  const parents: Record<string, string | null> = { a: null, b: 'a', c: 'b', x: 'a' };
  const isAncestor = (p: string, q: string): boolean => {
    for (let at: string | null = q; at !== null; at = parents[at] ?? null) if (at === p) return true;
    return false;
  };
  const known = (c: string): boolean => c in parents;
  const cases: [string | undefined, string, string][] = [
    [undefined, 'c', 'apply'],
    ['c', 'c', 'current'],
    ['a', 'c', 'apply'],
    ['b', 'c', 'apply'],
    ['c', 'b', 'refuse'], // older
    ['c', 'a', 'refuse'],
    ['c', 'x', 'refuse'], // not a descendant
    ['zzz', 'c', 'refuse'], // unknown to the repository
  ];
  for (const [running, candidate, kind] of cases) {
    it(`runs ${running ?? 'nothing'}, newest ${candidate}: ${kind}`, () => {
      assert.equal(decidePull({ running, candidate, known, isAncestor }).kind, kind);
    });
  }
});

describe('pull: git (a local repository)', { timeout: 120_000 }, () => {
  const gitIn = (dir: string, ...args: string[]): string =>
    execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.org', '-c', 'user.name=t', ...args], {
      encoding: 'utf8',
    }).trim();
  const origin = (dir: string): { repo: string; commit(file: string, sign?: string): string } => {
    const repo = join(dir, 'origin');
    mkdirSync(join(repo, 'site'), { recursive: true });
    gitIn(repo, 'init', '-q', '-b', 'main');
    return {
      repo,
      commit(file, sign) {
        writeFileSync(join(repo, 'site', file), `${file}\n`);
        gitIn(repo, 'add', '-A');
        const signing =
          sign === undefined ? [] : ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${sign}`, 'commit', '-S'];
        gitIn(repo, ...(signing.length > 0 ? signing : ['commit']), '-qm', file);
        return gitIn(repo, 'rev-parse', 'HEAD');
      },
    };
  };

  it('fetches the branch, takes a newer commit, refuses an older one, exports the site folder', async () => {
    requireTool('git');
    await withTempDir((dir) => {
      const o = origin(dir);
      const c1 = o.commit('one.yaml');
      const local = pullRepo(join(dir, 'node/var/lib/intentlb'));
      assert.equal(fetchBranch(local, o.repo, 'main'), c1);
      const c2 = o.commit('two.yaml');
      assert.equal(fetchBranch(local, o.repo, 'main'), c2);
      assert.equal(decideFor(local, c1, c2).kind, 'apply');
      assert.equal(decideFor(local, c2, c2).kind, 'current');
      assert.equal(decideFor(local, c2, c1).kind, 'refuse');
      assert.equal(decideFor(local, 'f'.repeat(40), c2).kind, 'refuse');
      const sites = join(dir, 'node/var/lib/intentlb/sites');
      mkdirSync(sites, { recursive: true });
      const out = exportSite(local, c2, 'site', sites);
      assert.equal(out, join(sites, c2));
      assert.equal(readFileSync(join(out, 'two.yaml'), 'utf8'), 'two.yaml\n');
      assert.ok(existsSync(join(out, 'one.yaml')));
    });
  });

  it('verify-commit: an unsigned commit is refused, one signed by an allowed key passes', async () => {
    requireTool('git');
    requireTool('ssh-keygen');
    await withTempDir((dir) => {
      const key = join(dir, 'signer');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const signers = join(dir, 'allowed_signers');
      writeFileSync(signers, `t@example.org ${readFileSync(`${key}.pub`, 'utf8')}`);
      const other = join(dir, 'other');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
      const o = origin(dir);
      const unsigned = o.commit('one.yaml');
      const signed = o.commit('two.yaml', key);
      const stranger = o.commit('three.yaml', other);
      const local = pullRepo(join(dir, 'node'));
      fetchBranch(local, o.repo, 'main');
      assert.throws(() => verifyCommit(local, unsigned, signers), PullError);
      assert.doesNotThrow(() => verifyCommit(local, signed, signers));
      assert.throws(() => verifyCommit(local, stranger, signers), PullError);
    });
  });
});

describe('pull: the systemd timer and service', () => {
  const units = renderPullUnits({
    command: ['/usr/bin/node', '/opt/intentlb/bin/intentlb.mjs'],
    args: ['git@git.example.org:net/site.git', '--node', 'lb1', '--branch', 'main', '--require-signed'],
    onCalendar: 'hourly',
    randomizedDelay: '15min',
  });

  it('renders the same bytes (goldens)', () => {
    for (const u of units) assertGolden(`test/rollout/golden/${u.name}`, u.content);
  });

  it('systemd-analyze verify accepts them', async () => {
    const analyze = requireTool('systemd-analyze');
    requireTool('node');
    await withTempDir(async (dir) => {
      const real = renderPullUnits({
        command: [process.execPath, '/opt/intentlb/bin/intentlb.mjs'],
        args: ['https://git.example.org/site.git', '--node', 'lb1'],
        onCalendar: 'hourly',
        randomizedDelay: '15min',
      });
      for (const u of real) writeFileSync(join(dir, u.name), u.content);
      const r = await runTool(analyze, ['verify', ...real.map((u) => join(dir, u.name))], {
        timeoutMs: 60_000,
      });
      assert.ok(r.ok, r.output);
    });
  });
});
