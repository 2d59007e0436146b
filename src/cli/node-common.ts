// What the node commands (plan, apply, boot, status, drain, supervise) share.
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { renderSite } from '../build/build.ts';
import { chooseControl, type ProcessControl } from '../deploy/control.ts';
import type { Store } from '../deploy/store.ts';
import { IP } from '../lab/netns.ts';
import type { NodeRow } from '../rollout/inspect.ts';
import { type CliIo, UsageError } from './io.ts';
import { inspectSite } from './rollout-command.ts';
import { compileSite, report } from './site-input.ts';

/** Whether this process runs in the machine's own network namespace (not a lab node's). */
export function inInitNetns(): boolean {
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

export interface NodeOpts {
  node: string;
  root: string;
}

/** Compiles the site and renders one node for the install layout under `root`. */
export async function renderFor(site: string, opts: NodeOpts, io: CliIo, store: Store) {
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

export const rootOption = (): Option =>
  new Option('--root <dir>', 'install prefix (labs, tests)').default('/');

export function control(store: Store): ProcessControl {
  return chooseControl(store.layout, store.root === '/');
}

/** The convergence switches apply and pull share. */
export function convergeOptions(cmd: Command): Command {
  return cmd
    .option('--no-validate', 'skip validation with the real tools')
    .option('--no-addresses', 'do not add or remove the VIPs on lo')
    .option('--no-firewall', 'do not load the nftables ruleset')
    .option(
      '--verify-timeout <ms>',
      'how long a touched instance may take to answer its monitor URI',
      '10000',
    );
}

export type SiteWideOptions = { format: 'text' | 'json'; inventory?: string[] };

/**
 * `status --site` and `plan` without `--node`: every node read through Ansible (inspectSite),
 * printed by `print`, which returns whether all is well (exit 0).
 */
export async function siteWide(
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
