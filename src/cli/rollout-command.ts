import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { renderSite } from '../build/build.ts';
import { DEFAULT_LAYOUT } from '../render/types.ts';
import { foldInspect, type NodeRow } from '../rollout/inspect.ts';
import { renderInspectPlaybook } from '../rollout/playbook.ts';
import { formatOutcomes, rolloutResult } from '../rollout/result.ts';
import { siteCommit } from '../rollout/revision.ts';
import { defaultInventories, logTail, runPlaybook, runRollout } from '../rollout/run.ts';
import { readStdin, stageSite } from '../rollout/stage.ts';
import { type CliIo, UsageError } from './io.ts';
import { compileSite, report } from './site-input.ts';

interface RolloutCliOptions {
  yes?: boolean;
  serial: string;
  nodes?: string;
  format: 'text' | 'json';
  inventory?: string[];
  verify: boolean;
  drain?: boolean;
  allowDirty?: boolean;
}

const SERIAL = /^(?:[1-9]\d*|(?:100|[1-9]\d?)%)$/;

/** Checks the site and returns its model, revision and the nodes to touch; null after errors. */
export async function siteForRollout(site: string, o: { nodes?: string; allowDirty?: boolean }, io: CliIo) {
  const run = await compileSite(site, io);
  if (report(run, io) || !run.model) return null;
  const all = run.model.site.nodes.map((n) => n.name);
  const selected = o.nodes === undefined ? all : o.nodes.split(',').map((s) => s.trim());
  const unknown = selected.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`--nodes: no node ${unknown.join(', ')} in ${site} (nodes: ${all.join(', ')})`);
  }
  // Every node's output must build before any node is touched.
  const built = renderSite(run.model, run.loaded.sources, run.loaded.certs, DEFAULT_LAYOUT);
  const manifest = JSON.parse(built[0]?.files.find((f) => f.path === 'manifest.json')?.content ?? '{}') as {
    intent_revision?: string;
  };
  const revision = siteCommit(run.root, o.allowDirty === true) ?? `intent-${manifest.intent_revision ?? ''}`;
  return { run, model: run.model, selected: all.filter((n) => selected.includes(n)), revision };
}

export function registerRollout(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('stage')
    .description(
      "a node's part of rollout: unpack the site archive (base64 tar.gz on stdin) into <dir>, whole or not at all",
    )
    .argument('<dir>', 'where the site revision goes (<state>/sites/<revision>)')
    .action((dir: string) => {
      io.stdout(`${stageSite(resolve(io.cwd, dir), readStdin())}\n`);
    });

  program
    .command('rollout')
    .description(
      'deploy the site to every LB node with Ansible: node by node (serial), apply then verify, stop and roll back at the first failure',
    )
    .argument('<site>', 'the site folder (a git checkout)')
    .option('--yes', 'roll out without asking')
    .option('--serial <n>', 'nodes at a time: a count (1 = canary first) or a percentage', '1')
    .option('--nodes <a,b>', 'only these nodes (the others are skipped)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option(
      '-i, --inventory <file...>',
      "Ansible inventories with the nodes' connection vars (default: $ANSIBLE_INVENTORY or /etc/ansible/hosts)",
    )
    .option('--no-verify', 'skip `intentlb verify` after each apply')
    .option('--drain', 'take each node out of the anycast set (healthd drain) while it is changed')
    .option('--allow-dirty', 'roll out a checkout with uncommitted changes (revision <commit>-dirty)')
    .action(async (site: string, o: RolloutCliOptions) => {
      if (!SERIAL.test(o.serial))
        throw new UsageError(`--serial ${o.serial}: a count (1, 2, ...) or a percentage (50%)`);
      const s = await siteForRollout(site, o, io);
      if (s === null) return setExit(1);
      if (o.yes !== true) {
        io.stderr(
          `rollout of ${s.revision} to ${s.selected.join(', ')} (serial ${o.serial}) changes live nodes: review \`intentlb plan\` and pass --yes\n`,
        );
        return setExit(2);
      }
      const r = await runRollout({
        model: s.model,
        siteDir: s.run.root,
        revision: s.revision,
        selected: s.selected,
        serial: o.serial,
        verify: o.verify,
        drain: o.drain === true,
        inventories: o.inventory ?? defaultInventories(process.env),
      });
      const result = rolloutResult(s.revision, r.outcomes);
      if (o.format === 'json') io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      else {
        io.stdout(`rollout ${s.revision} (serial ${o.serial}), ${(r.ms / 1000).toFixed(1)} s\n`);
        io.stdout(formatOutcomes(r.outcomes));
      }
      if (r.log !== null) io.stderr(`rollout: Ansible's output is in ${r.log}\n`);
      if (!result.ok) setExit(1);
    });
}

/**
 * Reads every node through Ansible (the inspect playbook): the plan against this checkout, the
 * node's status and its health checker's. For `status --site` and the site-wide `plan`.
 */
export async function inspectSite(
  site: string,
  o: { inventory?: string[]; nodes?: string },
  io: CliIo,
): Promise<{ revision: string; rows: NodeRow[]; log: string | null } | null> {
  const s = await siteForRollout(site, { ...o, allowDirty: true }, io);
  if (s === null) return null;
  const r = await runPlaybook(
    {
      model: s.model,
      siteDir: s.run.root,
      revision: s.revision,
      selected: s.selected,
      inventories: o.inventory ?? defaultInventories(process.env),
    },
    renderInspectPlaybook(),
  );
  const rows = foldInspect(s.selected, r.events);
  const ok = rows.every((x) => x.reachable);
  if (ok) rmSync(r.work, { recursive: true, force: true });
  else if (r.events.length === 0)
    for (const x of rows) x.detail = `ansible-playbook exit ${r.code}: ${logTail(r.log)}`;
  return { revision: s.revision, rows, log: ok ? null : r.log };
}
