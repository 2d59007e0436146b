import { watch } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type ApplyOptions, type ApplyResult, applyNode } from '../deploy/apply.ts';
import { healthdRequest } from '../deploy/healthd-request.ts';
import { nodeHooks } from '../deploy/hooks.ts';
import { rollbackNode } from '../deploy/rollback.ts';
import { currentGeneration, openStore, readGeneration, type Store } from '../deploy/store.ts';
import { installSystemdUnits } from '../deploy/systemd-units.ts';
import { visible } from '../diagnostics/index.ts';
import { readStdin, stageSite } from '../rollout/stage.ts';
import { HA_MODES } from '../vocabulary/ha-modes.ts';
import { formatTable, gateApply } from './apply-gate.ts';
import { type CliIo, UsageError } from './io.ts';
import {
  control,
  convergeOptions,
  inInitNetns,
  type NodeOpts,
  renderFor,
  rootOption,
} from './node-common.ts';

export function registerApply(program: Command, io: CliIo, setExit: (code: number) => void): void {
  convergeOptions(
    program
      .command('apply')
      .description(
        'converge a node: write a new generation atomically, validate it, start/reload/stop only what changed, verify, roll back on failure',
      )
      .argument('[site]', 'the site folder (not needed with --rollback)')
      .requiredOption('--node <name>', 'the LB node')
      .addOption(rootOption())
      .option('--yes', 'apply without asking')
      .option('--rollback', 'go back to the generation before the applied one')
      .option('--watch', 'stay running and apply again whenever a file of the site changes (implies --yes)')
      .option(
        '--commit <revision>',
        'the site commit being applied, recorded on the node (rollout and pull set it)',
      )
      .option(
        '--stage',
        "rollout's node step: first unpack the site archive (base64 tar.gz on stdin) into <site>, whole or not at all",
      ),
  )
    .option(
      '--verify',
      'after the change, run `verify --node` for the changed services; roll back when a check fails',
    )
    .option('--allow-degraded', 'exit 0 although a changed service has no server up (default: exit 1)')
    .action(async (site: string | undefined, opts: ApplyCliOptions) => {
      const store = openStore(resolve(io.cwd, opts.root));
      // Under --root in the machine's own namespace (a test install on a workstation), never
      // touch the machine's addresses or ruleset.
      const ownsNetwork = store.root === '/' || !inInitNetns();
      if (!ownsNetwork && (opts.addresses || opts.firewall)) {
        io.stderr('note: --root in the root network namespace: VIP addresses and nftables are left alone\n');
      }
      if (opts.rollback) {
        if (opts.yes !== true) throw new UsageError('apply --rollback changes a live node: pass --yes');
        const installed = readGeneration(store, currentGeneration(store));
        const anycast = installed.has('bird/intentlb.conf');
        // healthd.yaml is rendered for every mode; it says which one.
        const script = /^mode: script$/m.test(installed.get('healthd.yaml') ?? '');
        return report1(
          await rollbackNode(applyOptions(store, anycast, ownsNetwork, opts, io, anycast || script)),
          opts,
          io,
          setExit,
        );
      }
      if (site === undefined) throw new UsageError('apply needs <site> (or --rollback)');
      if (opts.yes !== true && opts.watch !== true) {
        throw new UsageError('apply changes a live node: review `intentlb plan` and pass --yes');
      }
      if (opts.stage === true) io.stdout(`${site}: ${stageSite(resolve(io.cwd, site), readStdin())}\n`);
      const once = async (): Promise<void> => {
        await applySite(site, opts, io, setExit);
      };
      await once();
      if (opts.watch === true) await watchSite(resolve(io.cwd, site), once, io);
    });
}

/**
 * `apply <site>` once: render the node from the site, converge it, report. Pull mode runs it too,
 * with a precondition checked under the deploy lock. Null when the site has errors.
 */
export async function applySite(
  site: string,
  opts: ApplyCliOptions,
  io: CliIo,
  setExit: (code: number) => void,
  precondition?: ApplyOptions['precondition'],
): Promise<ApplyResult | null> {
  const store = openStore(resolve(io.cwd, opts.root));
  const ownsNetwork = store.root === '/' || !inInitNetns();
  const r = await renderFor(site, opts, io, store);
  if (r === null) {
    io.stderr('apply: nothing changed\n');
    setExit(1);
    return null;
  }
  const ao = applyOptions(
    store,
    r.model.site.ha.mode === 'anycast',
    ownsNetwork,
    opts,
    io,
    HA_MODES[r.model.site.ha.mode].healthd,
  );
  const result = await applyNode(r.files, r.revision, {
    ...ao,
    ...(precondition !== undefined && { precondition }),
  });
  report1(result, opts, io, setExit);
  const gate = await gateApply(result, r.model, r.revision, store.root, {
    node: opts.node,
    verify: opts.verify === true,
    allowDegraded: opts.allowDegraded === true,
    ownsNetwork,
  });
  for (const m of gate.messages) io.stderr(`${visible(m)}\n`);
  if (gate.failedVerify !== undefined) {
    io.stdout(formatTable(gate.failedVerify, io.color));
    const failed = gate.failedVerify.results.filter((x) => !x.ok).map((x) => `${x.service} ${x.check}`);
    io.stderr(`verify failed (${visible(failed.join(', '))}): rolling the node back\n`);
    const back = await rollbackNode(ao);
    report1(back, opts, io, setExit);
    // The same words as a failed apply that rolled itself back: rollout reads them (rolled_back).
    if (back.ok) io.stderr(`the node is back on generation ${back.generation}\n`);
  }
  setExit(gate.exit);
  return result;
}

export interface ApplyCliOptions extends NodeOpts {
  yes?: boolean;
  rollback?: boolean;
  watch?: boolean;
  validate: boolean;
  addresses: boolean;
  firewall: boolean;
  verifyTimeout: string;
  commit?: string;
  stage?: boolean;
  verify?: boolean;
  allowDegraded?: boolean;
}

function applyOptions(
  store: Store,
  anycast: boolean,
  ownsNetwork: boolean,
  opts: ApplyCliOptions,
  io: CliIo,
  healthd = anycast,
): ApplyOptions {
  const pc0 = control(store);
  const log = (l: string): void => io.stdout(`${visible(l, { multiline: true })}\n`);
  // systemd: the HAProxy template, BIRD's, healthd's and keepalived's units where systemd finds them.
  if (pc0.kind === 'systemd') installSystemdUnits(store.layout);
  return {
    store,
    control: pc0,
    hooks: nodeHooks({
      layout: store.layout,
      control: pc0,
      log,
      hookDir: join(store.root, 'etc/intentlb-hooks.d'),
      healthd: healthdRequest,
      anycast,
      runsHealthd: healthd,
    }),
    validate: opts.validate,
    manageAddresses: anycast && opts.addresses && ownsNetwork,
    manageFirewall: opts.firewall && ownsNetwork,
    anycast,
    runsHealthd: healthd,
    log,
    verifyTimeoutMs: Number(opts.verifyTimeout),
    ...(opts.commit !== undefined && { commit: opts.commit }),
  };
}

function report1(result: ApplyResult, opts: NodeOpts, io: CliIo, setExit: (code: number) => void): void {
  if (!result.ok) {
    io.stderr(`apply failed: ${visible(String(result.error), { multiline: true })}\n`);
    if (result.rolledBack) io.stderr(`the node is back on generation ${result.generation}\n`);
    setExit(1);
    return;
  }
  io.stdout(`${opts.node}: generation ${result.generation} applied\n`);
}

/**
 * `apply --watch`: applies again after every change under the site folder (debounced; changes
 * made during an apply trigger one more). Runs until SIGTERM/SIGINT.
 */
async function watchSite(dir: string, once: () => Promise<void>, io: CliIo): Promise<void> {
  io.stdout(`watching ${dir}\n`);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  const fire = (): void => {
    if (running !== null) {
      again = true;
      return;
    }
    running = once()
      .catch((err: unknown) =>
        io.stderr(
          `apply failed: ${visible(err instanceof Error ? err.message : String(err), { multiline: true })}\n`,
        ),
      )
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          fire();
        }
      });
  };
  const watcher = watch(dir, { recursive: true }, () => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(fire, 20);
  });
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      watcher.close();
      void (running ?? Promise.resolve()).then(done);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
