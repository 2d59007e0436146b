import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import pc from 'picocolors';
import { unitsRunning } from '../deploy/execute.ts';
import { describeOp } from '../deploy/haproxy-diff.ts';
import { type Action, computePlan, describeAction, type Plan } from '../deploy/plan.ts';
import { currentGeneration, openStore, readApplied, readGeneration } from '../deploy/store.ts';
import { safeJson, visible } from '../diagnostics/index.ts';
import { HA_MODES } from '../vocabulary/ha-modes.ts';
import type { CliIo } from './io.ts';
import {
  control,
  type NodeOpts,
  renderFor,
  rootOption,
  type SiteWideOptions,
  siteWide,
} from './node-common.ts';

export function registerPlan(program: Command, io: CliIo, setExit: (code: number) => void): void {
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
        // Not known (no supervisor or systemd answers): the plan shows file changes only.
        const units = await unitsRunning(control(store));
        const plan = computePlan({
          next: new Map(r.files.map((f) => [f.path, f.content])),
          installed,
          applied,
          running: units?.instances ?? null,
          servicesRunning: units?.services ?? null,
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
