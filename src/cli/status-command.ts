import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { judgeNode, NODE_CHECKS, type NodeCheckName, PLUGIN, readNodeFacts } from '../deploy/node-check.ts';
import { formatStatus, nodeStatus } from '../deploy/status.ts';
import { openStore } from '../deploy/store.ts';
import { safeJson, visible } from '../diagnostics/index.ts';
import { formatRows, rowsHealthy } from '../rollout/inspect.ts';
import { type CliIo, UsageError } from './io.ts';
import { control, rootOption, type SiteWideOptions, siteWide } from './node-common.ts';

export function registerStatus(program: Command, io: CliIo, setExit: (code: number) => void): void {
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
