import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { intentRevision } from '../render/node.ts';
import {
  formatNagios,
  formatPrometheus,
  formatTable,
  reportJson,
  VerifyUsageError,
  verifySite,
} from '../verify/index.ts';
import { type CliIo, UsageError } from './io.ts';
import { compileSite, report } from './site-input.ts';

type Format = 'text' | 'json' | 'prometheus' | 'nagios';

interface VerifyCliOptions {
  node?: string;
  service?: string[];
  format: Format;
  root?: string;
  roots?: string;
  bird?: string;
  certDays: string;
  timeout: string;
  deadline: string;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} wants a positive whole number, not ${v}`);
  return n;
}

export function registerVerify(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('verify')
    .description(
      'check the site as a client sees it against the intent: ports, TLS, redirects, routes, allow lists, announcements; exit 0 all pass, 1 any fails',
    )
    .argument('<site>', 'the site folder')
    .option(
      '--node <name>',
      'verify from this LB node (run it there): its own HAProxy, monitor URIs and revision',
    )
    .option('--service <id...>', 'only these services')
    .addOption(
      new Option('--format <format>', 'output format (nagios: one plugin line, exit 0 OK / 2 CRITICAL)')
        .choices(['text', 'json', 'prometheus', 'nagios'])
        .default('text'),
    )
    .option('--root <dir>', "with --node: the node's install prefix, for the revision it applied")
    .option(
      '--roots <dir>',
      "<dir>/<node> is each node's install prefix (the lab's <lab dir>/nodes), for the revision check",
    )
    .option(
      '--bird <socket>',
      "a BIRD control socket that sees the nodes' announcements (the router's) for the announce check",
    )
    .option('--cert-days <n>', 'a served certificate must stay valid this many more days', '30')
    .option('--timeout <ms>', 'per probe', '3000')
    .option('--deadline <ms>', 'for the whole run', '10000')
    .action(async (site: string, opts: VerifyCliOptions) => {
      if (opts.root !== undefined && opts.node === undefined) throw new UsageError('--root needs --node');
      const run = await compileSite(site, io);
      if (report(run, io) || !run.model) {
        io.stderr('verify: the site does not compile; nothing was probed\n');
        return setExit(opts.format === 'nagios' ? 2 : 1);
      }
      const roots = new Map<string, string>();
      if (opts.roots !== undefined) {
        for (const n of run.model.site.nodes) roots.set(n.name, join(resolve(io.cwd, opts.roots), n.name));
      }
      if (opts.node !== undefined) roots.set(opts.node, resolve(io.cwd, opts.root ?? '/'));
      let r: Awaited<ReturnType<typeof verifySite>>;
      try {
        r = await verifySite(run.model, {
          revision: intentRevision(run.loaded.sources, run.loaded.certs),
          ...(opts.node !== undefined && { node: opts.node }),
          ...(opts.service !== undefined && { services: opts.service }),
          ...(opts.bird !== undefined && { bird: resolve(io.cwd, opts.bird) }),
          roots,
          certDays: positive('--cert-days', opts.certDays),
          timeoutMs: positive('--timeout', opts.timeout),
          deadlineMs: positive('--deadline', opts.deadline),
          now: io.now(),
        });
      } catch (e) {
        if (e instanceof VerifyUsageError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      const out = {
        text: () => formatTable(r, io.color),
        json: () => reportJson(r),
        prometheus: () => formatPrometheus(r),
        nagios: () => formatNagios(r),
      }[opts.format];
      io.stdout(out());
      if (!r.ok) setExit(opts.format === 'nagios' ? 2 : 1);
    });
}
