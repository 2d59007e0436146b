import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { acquireLock } from '../deploy/lock.ts';
import { openStore, readApplied } from '../deploy/store.ts';
import { SYSTEMD_DIR } from '../deploy/systemd-units.ts';
import { visible } from '../diagnostics/index.ts';
import { writeAtomic } from '../fs/atomic.ts';
import { decideFor, exportSite, fetchBranch, pullRepo, verifyCommit } from '../rollout/pull.ts';
import { PULL_UNIT, renderPullUnits } from '../rollout/pull-units.ts';
import { BIN } from '../runtime/paths.ts';
import { type ApplyCliOptions, applySite } from './apply-command.ts';
import type { CliIo } from './io.ts';
import { convergeOptions } from './node-common.ts';

interface PullCliOptions {
  node: string;
  root: string;
  branch: string;
  path: string;
  requireSigned?: boolean;
  allowedSigners?: string;
  every?: string;
  installTimer?: boolean;
  onCalendar: string;
  randomizedDelay: string;
  validate: boolean;
  addresses: boolean;
  firewall: boolean;
  verifyTimeout: string;
  verify: boolean;
  allowDegraded?: boolean;
}

/**
 * `intentlb pull <repository>`: one pull (fetch, verify, refuse older, apply under the deploy
 * lock), a loop of them (`--every`, for labs and containers), or the systemd timer that runs one
 * every hour (`--install-timer`).
 */
export function registerPull(program: Command, io: CliIo, setExit: (code: number) => void): void {
  convergeOptions(
    program
      .command('pull')
      .description(
        "pull mode: fetch the site's git repository, verify the newest commit, refuse one older than the node runs, apply it",
      )
      .argument('<repository>', 'any git URL (a read-only deploy key in ~/.ssh or GIT_SSH_COMMAND) or a path')
      .requiredOption('--node <name>', 'this LB node')
      .option('--root <dir>', 'install prefix (labs, tests)', '/')
      .option('--branch <name>', 'the branch to deploy', 'main')
      .option('--path <dir>', 'the site folder inside the repository', '')
      .option(
        '--require-signed',
        'apply only commits with a good signature by a trusted key (git verify-commit)',
      )
      .option(
        '--allowed-signers <file>',
        'trusted SSH signing keys (gpg.ssh.allowedSignersFile); GnuPG keys come from $GNUPGHOME',
      )
      .option('--every <seconds>', 'stay running and pull again every so many seconds (labs, containers)')
      .option('--install-timer', 'install and start the systemd timer that runs this pull periodically')
      .option('--on-calendar <spec>', 'with --install-timer: when (systemd OnCalendar=)', 'hourly')
      .option(
        '--randomized-delay <time>',
        'with --install-timer: spread of start times (RandomizedDelaySec=)',
        '15min',
      ),
  )
    .option(
      '--no-verify',
      'do not verify the changed services after the apply (as apply --verify does: a failed check rolls the node back)',
    )
    .option('--allow-degraded', 'accept a changed service with no server up (as apply --allow-degraded)')
    .action(async (repository: string, o: PullCliOptions) => {
      if (o.installTimer === true) return installTimer(repository, o, io);
      const once = async (): Promise<void> => {
        try {
          await pullOnce(repository, o, io, setExit);
        } catch (e) {
          io.stderr(`pull: ${visible(e instanceof Error ? e.message : String(e), { multiline: true })}\n`);
          setExit(1);
        }
      };
      await once();
      if (o.every === undefined) return;
      const ms = Number(o.every) * 1000;
      await new Promise<void>((done) => {
        const timer = setInterval(() => void once(), ms);
        const stop = (): void => {
          clearInterval(timer);
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          done();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}

async function pullOnce(repository: string, o: PullCliOptions, io: CliIo, setExit: (code: number) => void) {
  const store = openStore(resolve(io.cwd, o.root));
  const release = acquireLock(join(store.layout.state, 'pull.lock'), 'another pull');
  try {
    const repo = pullRepo(store.layout.state);
    const url = /^[a-z+]+:\/\/|^[^/]+@[^:]+:/.test(repository) ? repository : resolve(io.cwd, repository);
    const commit = fetchBranch(repo, url, o.branch);
    if (o.requireSigned === true) verifyCommit(repo, commit, o.allowedSigners);
    const first = decideFor(repo, readApplied(store)?.commit, commit);
    if (first.kind === 'current') {
      io.stdout(`${o.node}: runs ${commit}, the newest commit of ${o.branch}\n`);
      return;
    }
    if (first.kind === 'refuse') {
      io.stderr(`pull refused: ${first.reason}\n`);
      return setExit(1);
    }
    const dir = exportSite(repo, commit, o.path, join(store.layout.state, 'sites'));
    io.stdout(`${o.node}: applying ${commit}\n`);
    const opts: ApplyCliOptions = { ...o, yes: true, commit };
    // Decided again under the deploy lock: a rollout may have applied a newer commit meanwhile.
    await applySite(dir, opts, io, setExit, (rec) => {
      const d = decideFor(repo, rec?.commit, commit);
      return d.kind === 'refuse' ? d.reason : null;
    });
  } finally {
    release();
  }
}

function installTimer(repository: string, o: PullCliOptions, io: CliIo): void {
  const args = [repository, '--node', o.node, '--branch', o.branch];
  if (o.path !== '') args.push('--path', o.path);
  if (o.root !== '/') args.push('--root', resolve(io.cwd, o.root));
  if (o.requireSigned === true) args.push('--require-signed');
  if (o.allowedSigners !== undefined) args.push('--allowed-signers', resolve(io.cwd, o.allowedSigners));
  if (!o.verify) args.push('--no-verify');
  if (o.allowDegraded === true) args.push('--allow-degraded');
  const units = renderPullUnits({
    command: [process.execPath, BIN],
    args,
    onCalendar: o.onCalendar,
    randomizedDelay: o.randomizedDelay,
  });
  const root = resolve(io.cwd, o.root);
  const dir = root === '/' ? SYSTEMD_DIR : join(root, SYSTEMD_DIR);
  for (const u of units) writeAtomic(join(dir, u.name), u.content);
  io.stdout(`wrote ${units.map((u) => join(dir, u.name)).join(', ')}\n`);
  if (root === '/') {
    execFileSync('systemctl', ['daemon-reload'], { stdio: 'inherit' });
    execFileSync('systemctl', ['enable', '--now', `${PULL_UNIT}.timer`], { stdio: 'inherit' });
    io.stdout(`${PULL_UNIT}.timer enabled\n`);
  }
}
