import { execFileSync } from 'node:child_process';
import { readlinkSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import pc from 'picocolors';
import { renderSite } from '../build/build.ts';
import { type ApplyOptions, type ApplyResult, applyNode } from '../deploy/apply.ts';
import { bootNode } from '../deploy/boot.ts';
import { chooseControl, type ProcessControl } from '../deploy/control.ts';
import { drainService } from '../deploy/drain.ts';
import { describeOp } from '../deploy/haproxy-diff.ts';
import { healthdRequest } from '../deploy/healthd-request.ts';
import { nodeHooks } from '../deploy/hooks.ts';
import { judgeNode, NODE_CHECKS, type NodeCheckName, PLUGIN, readNodeFacts } from '../deploy/node-check.ts';
import { type Action, computePlan, describeAction, type Plan } from '../deploy/plan.ts';
import { rollbackNode } from '../deploy/rollback.ts';
import { formatStatus, nodeStatus } from '../deploy/status.ts';
import { currentGeneration, openStore, readApplied, readGeneration, type Store } from '../deploy/store.ts';
import { Supervisor } from '../deploy/supervisor.ts';
import { installSystemdUnits } from '../deploy/systemd-units.ts';
import { safeJson, visible } from '../diagnostics/index.ts';
import { IP } from '../lab/netns.ts';
import { formatRows, type NodeRow, rowsHealthy } from '../rollout/inspect.ts';
import { readStdin, stageSite } from '../rollout/stage.ts';
import { HA_MODES } from '../vocabulary/ha-modes.ts';
import { formatTable, gateApply } from './apply-gate.ts';
import { type CliIo, UsageError } from './io.ts';
import { inspectSite } from './rollout-command.ts';
import { compileSite, report } from './site-input.ts';

/** Whether this process runs in the machine's own network namespace (not a lab node's). */
function inInitNetns(): boolean {
  try {
    return readlinkSync('/proc/self/ns/net') === readlinkSync('/proc/1/ns/net');
  } catch {
    // No access to PID 1 (containers, sandboxes): a named namespace (`ip netns exec`) is not it.
    try {
      return execFileSync(IP, ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).trim() === '';
    } catch {
      return true; // no `ip`, or it cannot tell: assume the machine's own namespace (the careful side)
    }
  }
}

interface NodeOpts {
  node: string;
  root: string;
}

/** Compiles the site and renders one node for the install layout under `root`. */
async function renderFor(site: string, opts: NodeOpts, io: CliIo, store: Store) {
  const run = await compileSite(site, io);
  if (report(run, io) || !run.model) return null;
  const names = run.model.site.nodes.map((n) => n.name);
  if (!names.includes(opts.node)) {
    throw new UsageError(`no node ${opts.node} in ${site} (nodes: ${names.join(', ')})`);
  }
  const nodes = renderSite(run.model, run.loaded.sources, run.loaded.certs, store.layout);
  const files = nodes.find((n) => n.name === opts.node)!.files;
  const manifest = JSON.parse(files.find((f) => f.path === 'manifest.json')!.content) as {
    intent_revision: string;
  };
  return { model: run.model, files, revision: manifest.intent_revision };
}

function colorDiff(diff: string, io: CliIo): string {
  const c = io.color ? pc : pc.createColors(false);
  // A diff shows generated files, and so the team strings in them: each line through `visible`.
  return diff
    .split('\n')
    .map((l) => visible(l))
    .map((l) =>
      l.startsWith('+++') || l.startsWith('---')
        ? c.bold(l)
        : l.startsWith('+')
          ? c.green(l)
          : l.startsWith('-')
            ? c.red(l)
            : l.startsWith('@@')
              ? c.cyan(l)
              : l,
    )
    .join('\n');
}

function printPlan(plan: Plan, io: CliIo): void {
  for (const f of plan.files) io.stdout(`${colorDiff(f.diff, io)}\n`);
  if (plan.actions.length === 0) {
    io.stdout(plan.files.length === 0 ? 'no changes\n' : 'actions: none (files only)\n');
    return;
  }
  io.stdout(`actions (${plan.actions.length}):\n`);
  for (const a of plan.actions) {
    io.stdout(`  ${visible(describeAction(a))}\n`);
    if (a.kind === 'runtime') for (const op of a.ops) io.stdout(`      ${visible(describeOp(op))}\n`);
  }
}

const rootOption = (): Option => new Option('--root <dir>', 'install prefix (labs, tests)').default('/');

function control(store: Store): ProcessControl {
  return chooseControl(store.layout, store.root === '/');
}

export function registerDeploy(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('plan')
    .description(
      'show what apply would change on a node: a diff of every generated file against what is installed, and the actions',
    )
    .argument('<site>', 'the site folder')
    .option('--node <name>', 'the LB node (without it: every node of the site, read through Ansible)')
    .addOption(rootOption())
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option(
      '-i, --inventory <file...>',
      'site-wide: Ansible inventories (default: $ANSIBLE_INVENTORY or /etc/ansible/hosts)',
    )
    .action(
      async (
        site: string,
        opts: Partial<NodeOpts> & { root: string; format: 'text' | 'json'; inventory?: string[] },
      ) => {
        if (opts.node === undefined) return sitePlan(site, opts, io, setExit);
        const node = opts.node;
        const store = openStore(resolve(io.cwd, opts.root));
        const r = await renderFor(site, { node, root: opts.root }, io, store);
        if (r === null) return setExit(1);
        const installed = readGeneration(store, currentGeneration(store));
        const rec = readApplied(store);
        const applied = rec === null ? new Map<string, string>() : readGeneration(store, rec.generation);
        let running: Set<string> | null = null;
        try {
          running = new Set(
            [...(await control(store).running())]
              .filter((u) => u.startsWith('haproxy@'))
              .map((u) => u.slice(8)),
          );
        } catch {
          running = null; // nothing runs yet (no supervisor): every instance counts as to be started
        }
        const plan = computePlan({
          next: new Map(r.files.map((f) => [f.path, f.content])),
          installed,
          applied,
          running,
          manageAddresses: r.model.site.ha.mode === 'anycast',
          manageFirewall: true,
          anycast: r.model.site.ha.mode === 'anycast',
          runsHealthd: HA_MODES[r.model.site.ha.mode].healthd,
        });
        if (opts.format === 'json') {
          io.stdout(
            `${safeJson({ node, installed: currentGeneration(store), applied: rec?.generation ?? null, ...plan })}\n`,
          );
        } else {
          printPlan(plan, io);
        }
      },
    );

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
    )
    .option('--no-validate', 'skip validation with the real tools')
    .option('--no-addresses', 'do not add or remove the VIPs on lo')
    .option('--no-firewall', 'do not load the nftables ruleset')
    .option(
      '--verify-timeout <ms>',
      'how long a touched instance may take to answer its monitor URI',
      '10000',
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

  program
    .command('boot')
    .description(
      "at boot, before the HAProxy instances (intentlb-boot.service): put the applied generation's VIPs back on lo and load its nftables ruleset; changes nothing else",
    )
    .addOption(rootOption())
    .option('--no-addresses', 'do not add the VIPs on lo')
    .option('--no-firewall', 'do not load the nftables ruleset')
    .action(async (opts: { root: string; addresses: boolean; firewall: boolean }) => {
      const store = openStore(resolve(io.cwd, opts.root));
      const ownsNetwork = store.root === '/' || !inInitNetns();
      const r = await bootNode(store, {
        manageAddresses: opts.addresses && ownsNetwork,
        manageFirewall: opts.firewall && ownsNetwork,
      });
      if (r.generation === null) return io.stdout('boot: no generation applied; nothing to do\n');
      io.stdout(
        `boot: generation ${r.generation}: ${r.addresses.length} VIP address(es) on lo, nftables ${r.firewall ? 'loaded' : 'left alone'}\n`,
      );
    });

  program
    .command('status')
    .description(
      'per instance: running, generation, workers, servers up/down, last change (nagios: one plugin line for --check)',
    )
    .option('--node <name>', 'the LB node (checked against what is installed)')
    .addOption(rootOption())
    .addOption(
      new Option('--format <format>', 'output format (nagios: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)')
        .choices(['text', 'json', 'nagios'])
        .default('text'),
    )
    .addOption(
      new Option('--check <what>', 'with --format nagios: what to judge')
        .choices([...NODE_CHECKS])
        .default('instances'),
    )
    .option('--revision <rev>', 'with --check revision: the intent revision the node must have applied')
    .option('--site <site>', 'every node of the site, through Ansible: node × commit × drift × healthd')
    .option(
      '-i, --inventory <file...>',
      'with --site: Ansible inventories (default: $ANSIBLE_INVENTORY or /etc/ansible/hosts)',
    )
    .action(
      async (opts: {
        node?: string;
        root: string;
        format: 'text' | 'json' | 'nagios';
        check: NodeCheckName;
        revision?: string;
        site?: string;
        inventory?: string[];
      }) => {
        if (opts.site !== undefined) {
          if (opts.format === 'nagios')
            throw new UsageError('--format nagios judges one node: run it on the node, without --site');
          return siteStatus(opts.site, { ...opts, format: opts.format }, io, setExit);
        }
        const store = openStore(resolve(io.cwd, opts.root));
        const st = await nodeStatus(store, control(store));
        if (st === null) {
          if (opts.format === 'nagios') {
            io.stdout(`UNKNOWN - nothing installed under ${visible(store.layout.etc)}\n`);
            return setExit(PLUGIN.unknown);
          }
          io.stderr(`nothing installed under ${store.layout.etc}\n`);
          return setExit(1);
        }
        if (opts.node !== undefined && st.node !== opts.node) {
          throw new UsageError(`${store.layout.etc} holds node ${st.node}, not ${opts.node}`);
        }
        if (opts.format === 'nagios') {
          const r = judgeNode(opts.check, await readNodeFacts(store, st, opts.check), opts.revision);
          io.stdout(r.text);
          return setExit(r.code);
        }
        io.stdout(opts.format === 'json' ? `${JSON.stringify(st, null, 2)}\n` : formatStatus(st, io.color));
        if (st.instances.some((i) => !i.running)) setExit(1);
      },
    );

  for (const [name, state] of [
    ['drain', 'drain'],
    ['enable', 'ready'],
  ] as const) {
    program
      .command(name)
      .description(
        name === 'drain'
          ? "take a service's servers (or one server) out of rotation without a reload: no new connections, current ones finish"
          : 'put drained servers of a service back into rotation, without a reload',
      )
      .argument('<service>', 'the service id, e.g. web/typo3/www')
      .argument('[server]', 'one server (default: all of the service)')
      .addOption(rootOption())
      .action(async (service: string, server: string | undefined, opts: { root: string }) => {
        const store = openStore(resolve(io.cwd, opts.root));
        const changed = await drainService(store, service, server, state);
        for (const c of changed) io.stdout(`${c}: ${state}\n`);
      });
  }

  program
    .command('supervise')
    .description(
      "the built-in supervisor (labs, containers, no systemd): keeps the node's HAProxy instances, BIRD and healthd running, restarts them with back-off",
    )
    .addOption(rootOption())
    .option('--node <name>', 'the LB node (for the log)')
    .action(async (opts: { root: string; node?: string }) => {
      const store = openStore(resolve(io.cwd, opts.root));
      const node = opts.node ?? '';
      const sup = new Supervisor({
        layout: store.layout,
        log: (e) => io.stdout(`${JSON.stringify({ time: new Date().toISOString(), node, ...e })}\n`),
      });
      await sup.listen();
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void sup.close().then(resolveStop);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}

type SiteWideOptions = { format: 'text' | 'json'; inventory?: string[] };

/**
 * `status --site` and `plan` without `--node`: every node read through Ansible (inspectSite),
 * printed by `print`, which returns whether all is well (exit 0).
 */
async function siteWide(
  what: string,
  site: string,
  opts: SiteWideOptions,
  io: CliIo,
  setExit: (code: number) => void,
  print: (r: { revision: string; rows: NodeRow[] }) => boolean,
): Promise<void> {
  const r = await inspectSite(
    site,
    { ...(opts.inventory !== undefined && { inventory: opts.inventory }) },
    io,
  );
  if (r === null) return setExit(1);
  const fine = print(r);
  if (r.log !== null) io.stderr(`${what}: Ansible's output is in ${r.log}\n`);
  if (!fine) setExit(1);
}

/** `status --site`: a row per node. Not fine on drift, a stopped instance or an unreachable node. */
function siteStatus(site: string, opts: SiteWideOptions, io: CliIo, setExit: (code: number) => void) {
  return siteWide('status', site, opts, io, setExit, (r) => {
    if (opts.format === 'json') {
      const nodes = r.rows.map(({ actions: _actions, ...row }) => row);
      io.stdout(`${safeJson({ revision: r.revision, nodes })}\n`);
    } else {
      io.stdout(`site at ${r.revision}\n${formatRows(r.rows)}`);
    }
    return rowsHealthy(r.rows);
  });
}

/** `plan <site>` without `--node`: what apply would change on each node. */
function sitePlan(site: string, opts: SiteWideOptions, io: CliIo, setExit: (code: number) => void) {
  return siteWide('plan', site, opts, io, setExit, (r) => {
    if (opts.format === 'json') {
      const nodes = r.rows.map(({ name, reachable, drift, actions, detail }) => ({
        name,
        reachable,
        drift,
        actions,
        detail,
      }));
      io.stdout(`${safeJson({ revision: r.revision, nodes })}\n`);
    } else {
      for (const x of r.rows) {
        const what =
          x.drift === null
            ? `unknown (${x.detail || 'no plan'})`
            : x.drift.files + x.drift.actions === 0
              ? 'no changes'
              : `${x.drift.files} files, ${x.drift.actions} actions`;
        io.stdout(`${x.name}: ${what}\n`);
        for (const a of x.actions) io.stdout(`  ${describeAction(a as Action)}\n`);
      }
    }
    return r.rows.every((x) => x.drift !== null);
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
