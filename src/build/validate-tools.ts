import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { str as icingaString } from '../render/quote/icinga2.ts';
import { findTool, missingTool as missing, runTool, type ToolResult } from './run-tool.ts';

export type { ToolResult };

const TIMEOUT_MS = 30_000;

/**
 * `nft -c -f file` inside a throwaway network namespace: a check still goes through the kernel
 * (sets, intervals), and the namespace keeps the host's own ruleset out of reach. Needs root.
 */
export async function validateNft(file: string, nsPrefix = 'intentlb-t'): Promise<ToolResult> {
  const nft = findTool('nft');
  if (nft === undefined) return missing('nft');
  return withNetns(async (ns) => run('ip', ['netns', 'exec', ns, nft, '-c', '-f', resolve(file)]), nsPrefix);
}

/** `bird -p -c file`: parse and check only, no daemon, no control socket. */
export async function validateBird(file: string): Promise<ToolResult> {
  const bird = findTool('bird');
  if (bird === undefined) return missing('bird');
  return run(bird, ['-p', '-c', resolve(file)]);
}

/**
 * `vtysh --dryrun --inputfile file`: FRR's integrated configuration parsed by every daemon's
 * commands, no daemon needed. `--config_dir` points at an empty temporary folder so the host's
 * /etc/frr (vtysh.conf) stays out of it.
 */
export async function validateFrr(file: string): Promise<ToolResult> {
  const vtysh = findTool('vtysh');
  if (vtysh === undefined) return missing('vtysh');
  const dir = await mkdtemp(join(tmpdir(), 'intentlb-frr-'));
  try {
    await writeFile(join(dir, 'vtysh.conf'), '');
    return await run(vtysh, ['--config_dir', dir, '--dryrun', '--inputfile', resolve(file)]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `keepalived -t -f file` in a throwaway network namespace holding a veth for every interface the
 * file names: keepalived rejects a configuration whose interface does not exist, and the build
 * host need not have the node's interfaces. `-e` makes a missing file an error (plain `-t`
 * exits 0 for it). Needs root.
 */
export async function validateKeepalived(file: string): Promise<ToolResult> {
  const keepalived = findTool('keepalived');
  if (keepalived === undefined) return missing('keepalived');
  const path = resolve(file);
  if (!existsSync(path)) return { ok: false, output: `${path}: no such file`, missing: false };
  const interfaces = [
    ...new Set([...(await readFile(path, 'utf8')).matchAll(/^\s*interface\s+(\S+)\s*$/gm)].map((m) => m[1]!)),
  ];
  return withNetns(async (ns) => {
    for (const [i, name] of interfaces.entries()) {
      const link = await run('ip', [
        '-n',
        ns,
        'link',
        'add',
        name,
        'type',
        'veth',
        'peer',
        'name',
        `intentlb-p${i}`,
      ]);
      if (!link.ok) return { ...link, output: `cannot create interface ${name}: ${link.output}` };
    }
    return run('ip', ['netns', 'exec', ns, keepalived, '-t', '-e', '-f', path]);
  });
}

/**
 * `icinga2 daemon -C` on a minimal configuration that includes the ITL, the plugin commands and
 * the file(s), as an Icinga master would: its own Endpoint and Zone (`NodeName`, `ZoneName`)
 * exist, so the site's agent zones (`parent = ZoneName`) and `command_endpoint`s resolve. Every
 * path icinga2 writes (cache, state, logs, pid) points into a temporary directory, and it runs as
 * the current user, so the host's Icinga is left alone.
 */
export async function validateIcinga(files: string | readonly string[]): Promise<ToolResult> {
  const icinga2 = findTool('icinga2');
  if (icinga2 === undefined) return missing('icinga2');
  const dir = await mkdtemp(join(tmpdir(), 'intentlb-icinga-'));
  try {
    const main = join(dir, 'icinga2.conf');
    await writeFile(
      main,
      [
        'const NodeName = "intentlb-validate"',
        'const ZoneName = NodeName',
        'const PluginDir = "/usr/lib/nagios/plugins"',
        'include <itl>',
        'include <plugins>',
        'object Endpoint NodeName { }',
        'object Zone ZoneName { endpoints = [ NodeName ] }',
        ...(typeof files === 'string' ? [files] : files).map((f) => `include ${icingaString(resolve(f))}`),
        '',
      ].join('\n'),
    );
    const group = await run('id', ['-gn']);
    const defines: Record<string, string> = {
      RunAsUser: userInfo().username,
      ...(group.ok && { RunAsGroup: group.output.trim() }),
      CacheDir: join(dir, 'cache'),
      DataDir: join(dir, 'data'),
      LogDir: join(dir, 'log'),
      SpoolDir: join(dir, 'spool'),
      InitRunDir: join(dir, 'run'),
      PidPath: join(dir, 'run', 'icinga2.pid'),
      VarsPath: join(dir, 'cache', 'icinga2.vars'),
      ObjectsPath: join(dir, 'cache', 'icinga2.debug'),
      ModAttrPath: join(dir, 'data', 'modified-attributes.conf'),
    };
    for (const sub of ['cache', 'data', 'log', 'spool', 'run']) await mkdir(join(dir, sub));
    const args = Object.entries(defines).flatMap(([k, v]) => ['-D', `Configuration.${k}=${v}`]);
    return await run(icinga2, ['daemon', '-C', '-x', 'warning', '-c', main, ...args]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `promtool check config` on a Prometheus configuration: its scrape jobs, the file_sd target files
 * they read and the rule files it names (relative to the file). No server is started.
 */
export async function validatePrometheus(file: string): Promise<ToolResult> {
  const promtool = findTool('promtool');
  if (promtool === undefined) return missing('promtool');
  return run(promtool, ['check', 'config', resolve(file)]);
}

/** `promtool check rules` on alerting and recording rule files. */
export async function validateRules(file: string): Promise<ToolResult> {
  const promtool = findTool('promtool');
  if (promtool === undefined) return missing('promtool');
  return run(promtool, ['check', 'rules', resolve(file)]);
}

/** A network namespace that exists only while `fn` runs. */
async function withNetns(
  fn: (ns: string) => Promise<ToolResult>,
  prefix = 'intentlb-t',
): Promise<ToolResult> {
  if (findTool('ip') === undefined) return missing('ip');
  const ns = `${prefix}-${randomBytes(4).toString('hex')}`;
  const add = await run('ip', ['netns', 'add', ns]);
  if (!add.ok)
    return { ...add, output: `cannot create network namespace ${ns} (root needed): ${add.output}` };
  try {
    return await fn(ns);
  } finally {
    await run('ip', ['netns', 'delete', ns]);
  }
}

const run = (cmd: string, args: string[]): Promise<ToolResult> =>
  runTool(cmd, args, { timeoutMs: TIMEOUT_MS });
