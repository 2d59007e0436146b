/**
 * The lab router as FRRouting (`lab up --router frr`): zebra, bfdd, bgpd and staticd started in
 * the router's namespace, each a process the lab records and stops by PID, with every path they
 * use (configuration, pid files, vty sockets, zebra's API socket, bfdd's control socket) in the
 * lab folder, so the host's /etc/frr and /run/frr are never touched. The integrated `frr.conf`
 * is pushed by `vtysh -b`; the router is asked by `vtysh -c '… json'`. ADR 0023.
 */
import { execFile } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { validateFrr } from '../build/validate-tools.ts';
import { isMissing } from '../errors.ts';
import type { Model } from '../model/index.ts';
import { LabError } from './errors.ts';
import { frrRouterProblems, frrSessionName, renderFrrConfig } from './frr-config.ts';
import { isAlive, type LabProcess, type SpawnSpec, stopProcesses, tail, waitForLog } from './processes.ts';
import type { RouterDriver, RouterRoute, RouterSessionState } from './router-driver.ts';
import { type LabState, writeState } from './state.ts';

/** Where Debian's frr package puts its daemons. */
export const FRR_DAEMON_DIR = '/usr/lib/frr';
/** The daemons the router needs (FRR 8.4 has no mgmtd; zebra first, the others connect to it). */
export const FRR_DAEMONS = ['zebra', 'bfdd', 'bgpd', 'staticd'] as const;
const READY_MS = 10_000;
const VTYSH_TIMEOUT_MS = 5000;

export const frrRouter: RouterDriver = {
  label: 'FRR',
  tools: ['vtysh'],
  paths: (dir) => ({ config: join(dir, 'router', 'frr.conf'), socket: join(dir, 'router', 'run') }),
  problems: (model) => [...missingDaemons(), ...frrRouterProblems(model)],
  start: startFrr,
  reconfigure: reconfigureFrr,
  view: viewFrr,
};

function missingDaemons(): string[] {
  const missing = FRR_DAEMONS.filter((d) => {
    try {
      accessSync(join(FRR_DAEMON_DIR, d), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  return missing.length === 0
    ? []
    : [`--router frr needs ${missing.map((d) => join(FRR_DAEMON_DIR, d)).join(', ')} (apt-get install frr)`];
}

/**
 * A daemon's command line. `-u root -g frrvty`: FRR drops to its `frr` user unless told, which
 * could not enter the lab folder (0700, root's); it insists its user be in the vty group. `-P 0`:
 * no TCP vty, the unix sockets in the lab folder only. `-N`: any path not given here would fall
 * in a folder of the lab's own name, never the host's default one.
 */
export function frrDaemonCommand(daemon: string, s: Pick<LabState, 'prefix' | 'dir' | 'router'>): string[] {
  const run = s.router.socket;
  return [
    'nice',
    '-n',
    '-10',
    join(FRR_DAEMON_DIR, daemon),
    '-N',
    `intentlb-${s.prefix.replace(/[-_.]+$/, '') || 'lab'}`,
    '-u',
    'root',
    '-g',
    'frrvty',
    '-f',
    join(dirname(s.router.config), 'daemon.conf'),
    '-i',
    join(run, `${daemon}.pid`),
    '-z',
    join(run, 'zserv.api'),
    '--vty_socket',
    run,
    '-P',
    '0',
    '--log',
    'stdout',
    ...(daemon === 'bfdd' ? ['--bfdctl', join(run, 'bfdd.sock')] : []),
  ];
}

async function startFrr(s: LabState, model: Model, spawn: (spec: SpawnSpec) => LabProcess): Promise<void> {
  const text = renderFrrConfig(model, s.topology, s.routing);
  await checked(s.router.config, text);
  const dir = dirname(s.router.config);
  // Each daemon starts empty (it would read the integrated file as its own and trip on the others'
  // commands); `vtysh -b` then gives each its part. vtysh.conf: so vtysh reads none of the host's.
  writeFileSync(join(dir, 'daemon.conf'), '');
  writeFileSync(join(dir, 'vtysh.conf'), '');
  mkdirSync(s.router.socket, { recursive: true });
  const ns = s.topology.hosts.find((h) => h.role === 'router')!.ns;
  const started = FRR_DAEMONS.map((daemon) =>
    spawn({
      kind: daemon,
      host: 'router',
      ns,
      // BFD detects a silent peer after 3 x 50 ms: the router runs ahead of ordinary work (as BIRD).
      command: frrDaemonCommand(daemon, s),
      log: join(s.dir, 'logs', `router-${daemon}.log`),
    }),
  );
  const deadline = Date.now() + READY_MS;
  for (const [i, daemon] of FRR_DAEMONS.entries()) {
    const p = started[i]!;
    while (!existsSync(join(s.router.socket, `${daemon}.vty`))) {
      if (!isAlive(p)) await waitForLog(p, () => false, 0, `the router (${daemon})`);
      if (Date.now() > deadline)
        throw new LabError(
          `the router (${daemon}) has no vty socket within ${READY_MS} ms:\n${tail(readLog(p.log))}`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const boot = await vtysh(s, ['-b']);
  if (!boot.ok) throw new LabError(`FRR refused the router's configuration (vtysh -b):\n${boot.output}`);
}

/**
 * `lab apply`: a changed configuration restarts the daemons with it (BGP sessions come up again
 * within seconds). Without frr-reload.py (frr-pythontools) FRR has no way to drop what a new
 * configuration no longer says; an unchanged one leaves the router alone.
 */
async function reconfigureFrr(
  s: LabState,
  model: Model,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  const text = renderFrrConfig(model, s.topology, s.routing);
  if (readLog(s.router.config) === text) return;
  const next = `${s.router.config}.new`;
  await checked(next, text);
  const old = s.processes.filter(
    (p) => p.host === 'router' && (FRR_DAEMONS as readonly string[]).includes(p.kind),
  );
  await stopProcesses(old);
  s.processes = s.processes.filter((p) => !old.includes(p));
  writeState(s);
  renameSync(next, s.router.config);
  await startFrr(s, model, spawn);
}

async function checked(file: string, text: string): Promise<void> {
  writeFileSync(file, text);
  const check = await validateFrr(file);
  if (!check.ok) {
    rmSync(file, { force: true });
    throw new LabError(`FRR rejected the router's configuration (vtysh --dryrun):\n${check.output}`);
  }
}

interface FrrNeighbor {
  nbrDesc?: string;
  bgpState?: string;
  bgpTimerUpString?: string;
  lastResetDueTo?: string;
}
interface FrrBfdPeer {
  peer?: string;
  status?: string;
  'receive-interval'?: number;
  'transmit-interval'?: number;
  'detect-multiplier'?: number;
}
interface FrrBgpPath {
  valid?: boolean;
  peerId?: string;
  nexthops?: { ip?: string; scope?: string }[];
}
interface FrrRibRoute {
  protocol?: string;
  nexthops?: { ip?: string; interfaceName?: string }[];
}

async function viewFrr(s: LabState, prefixes: readonly string[]) {
  const neighbors = await vtyshJson<Record<string, FrrNeighbor>>(s, 'show bgp neighbors json');
  const bfd = new Map(
    (await vtyshJson<FrrBfdPeer[]>(s, 'show bfd peers json')).map((p) => [p.peer ?? '', p]),
  );
  const sessions: RouterSessionState[] = Object.entries(neighbors)
    .map(([address, n]) => {
      const b = bfd.get(address);
      const info = [
        n.bgpState ?? '?',
        b &&
          `BFD ${b.status} ${b['transmit-interval']}/${b['receive-interval']} ms x${b['detect-multiplier']}`,
        n.bgpState !== 'Established' && n.lastResetDueTo,
      ];
      return {
        name: frrSessionName(n.nbrDesc, address),
        state: n.bgpState === 'Established' ? 'up' : 'start',
        info: info.filter((x) => typeof x === 'string' && x !== '').join(', '),
        since: n.bgpTimerUpString ?? '',
        established: n.bgpState === 'Established',
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const nameOf = new Map(Object.entries(neighbors).map(([a, n]) => [a, frrSessionName(n.nbrDesc, a)]));
  const routes = new Map<string, RouterRoute[]>(prefixes.map((p) => [p, []]));
  for (const family of ['ip', 'ipv6'] as const) {
    const bgp = await vtyshJson<{ routes?: Record<string, FrrBgpPath[]> }>(
      s,
      `show bgp ${family === 'ip' ? 'ipv4' : 'ipv6'} unicast json`,
    );
    for (const [prefix, paths] of Object.entries(bgp.routes ?? {})) {
      const mine = routes.get(prefix);
      if (mine === undefined) continue;
      for (const p of paths.filter((x) => x.valid !== false)) {
        const hop = p.nexthops?.find((h) => h.scope !== 'link-local')?.ip;
        mine.push({
          protocol: nameOf.get(p.peerId ?? '') ?? p.peerId ?? 'bgp',
          via: hop === undefined ? [] : [hop],
        });
      }
    }
    // Routes of other protocols (staticd's, for --static-vips and VRRP labs), as zebra holds them.
    const rib = await vtyshJson<Record<string, FrrRibRoute[]>>(s, `show ${family} route json`);
    for (const [prefix, entries] of Object.entries(rib)) {
      const mine = routes.get(prefix);
      if (mine === undefined) continue;
      for (const e of entries.filter((x) => x.protocol !== 'bgp')) {
        mine.push({
          protocol: e.protocol ?? '?',
          via: (e.nexthops ?? []).flatMap(
            (h) => h.ip ?? (h.interfaceName !== undefined ? `dev ${h.interfaceName}` : []),
          ),
        });
      }
    }
  }
  return { sessions, routes };
}

/** `vtysh` on the lab router's sockets, never the host's. */
function vtysh(s: LabState, args: string[]): Promise<{ ok: boolean; output: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      'vtysh',
      ['--config_dir', dirname(s.router.config), '--vty_socket', s.router.socket, ...args],
      { encoding: 'utf8', timeout: VTYSH_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}`, stdout }),
    );
  });
}

async function vtyshJson<T>(s: LabState, command: string): Promise<T> {
  const r = await vtysh(s, ['-c', command]);
  if (!r.ok) throw new LabError(`vtysh -c '${command}': ${r.output.trim()}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new LabError(`vtysh -c '${command}' printed no JSON: ${r.output.slice(0, 200)}`);
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return '';
    throw err;
  }
}
