/**
 * `intentlb lab up | apply | down`: a whole site on one machine, in network namespaces. Every
 * namespace and process is recorded in the lab's state before (namespaces) or as soon as
 * (processes) it exists, and a failed `up` undoes everything it did.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../model/index.ts';
import type { InventoryHost } from '../validate/index.ts';
import { formatListenSpec } from './backend/listen-spec.ts';
import { backendCommand } from './backend-bundle.ts';
import { isBackendProcess, startBackendHost } from './backend-host.ts';
import { type BackendPlan, planBackends } from './backends.ts';
import { type DeployNode, deployNode } from './deploy-node.ts';
import { LabError } from './errors.ts';
import { setFlowPinning } from './flow-pinning.ts';
import { listNamespaces } from './netns.ts';
import { preflight, UP_TOOLS } from './preflight.ts';
import { type LabProcess, type SpawnSpec, spawnDetached, stopProcesses } from './processes.ts';
import {
  assignReal,
  type BinaryPaths,
  locateBinaries,
  REAL_DAEMONS,
  type RealProtocol,
} from './real/index.ts';
import { ROUTERS, reconfigureRouter, routerOf, settleBgp, startRouter } from './router.ts';
import { vipRouting } from './router-config.ts';
import type { RouterKind } from './router-driver.ts';
import { managementWarning, startSsh } from './ssh.ts';
import { type LabState, lockLab, readState, writeState } from './state.ts';
import { teardown } from './teardown.ts';
import { deriveTopology, type LabTopology } from './topology.ts';
import { wire } from './wiring.ts';
import { planWiring } from './wiring-plan.ts';

export { LabError };

/** A compiled site, as the lab reads it. */
export interface LabSite {
  /** The site folder, absolute. */
  dir: string;
  model: Model;
  inventory: InventoryHost[];
}

/** Which lab: its namespace prefix and its state folder. */
export interface LabTarget {
  prefix: string;
  dir: string;
}

export interface UpOptions extends LabTarget {
  /** Route every VIP to every node statically instead of learning them by BGP. */
  staticVips: boolean;
  /** Let the router's ECMP hash alone route each packet, without flow pinning (`--plain-ecmp`). */
  plainEcmp?: boolean;
  /** Deploy the LB nodes (`--no-deploy`: network, router and backends only). */
  deploy: boolean;
  /** The router's daemon (`--router`, default BIRD). */
  router?: RouterKind;
  progress(line: string): void;
  /** Replaces the deploy step (tests). */
  deployNode?: DeployNode;
  /** The protocols Debian's daemons serve instead of the built-in servers (`--backends real`). */
  realBackends?: readonly RealProtocol[];
}

export interface UpReport {
  state: LabState;
  ms: number;
  /** Things that work but not as one would hope (VIPs not announced yet, say). */
  warnings: string[];
}

/** Brings a site up as a lab. */
export async function labUp(site: LabSite, o: UpOptions): Promise<UpReport> {
  const t0 = Date.now();
  const progress = (line: string): void => o.progress(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${line}`);
  const { model } = site;
  const routing = vipRouting(model.site.ha, o.staticVips);
  if (typeof routing === 'object') throw new LabError(routing.error);
  const topology = topologyOf(site, o.prefix);
  const realBackends = [...(o.realBackends ?? [])];
  const { plans: backends, kept } = assignReal(
    backendsOf(model, topology),
    realBackends,
    nodeAddresses(topology),
  );
  const needsTls = backends.some((b) => b.listen.some((l) => l.tls));
  const kind = o.router ?? 'bird';
  const driver = ROUTERS[kind];
  failOn(preflight([...UP_TOOLS, ...driver.tools, ...(needsTls ? ['openssl'] : [])]));
  failOn(driver.problems(model));
  const bins = realBinaries(backends);

  const lock = lockLab(o.dir);
  let state: LabState | undefined;
  try {
    const existing = readState(o.dir);
    if (existing !== undefined) {
      const present = new Set(listNamespaces());
      if (existing.namespaces.some((ns) => present.has(ns))) {
        throw new LabError(
          `a lab is already up with prefix "${existing.prefix}" (site ${existing.site}): ` +
            '`intentlb lab apply <site>` re-deploys it, `intentlb lab down` removes it',
        );
      }
      await teardown(existing, { keepDir: true });
    } else {
      // The lab removes its own entries from its folder at `down`: it never shares one.
      const foreign = readdirSync(o.dir).filter((e) => e !== 'lock');
      if (foreign.length > 0) {
        throw new LabError(
          `the lab folder ${o.dir} holds other files (${foreign.slice(0, 5).join(', ')}): choose another --dir`,
        );
      }
    }
    const wiring = planWiring(topology);
    const present = new Set(listNamespaces());
    const clash = wiring.namespaces.filter((ns) => present.has(ns));
    if (clash.length > 0) {
      throw new LabError(
        `namespaces ${clash.join(', ')} exist but belong to no lab in ${o.dir}: ` +
          'delete them (ip netns delete) or choose another --prefix',
      );
    }

    for (const sub of ['logs', 'hosts', 'router', 'nodes']) mkdirSync(join(o.dir, sub), { recursive: true });
    const s: LabState = {
      version: 1,
      prefix: o.prefix,
      dir: o.dir,
      site: site.dir,
      routing,
      ...(routing !== 'onlink' && { flows: o.plainEcmp === true ? ('plain' as const) : ('pinned' as const) }),
      deploy: o.deploy,
      phase: 'starting',
      startedAt: new Date(t0).toISOString(),
      namespaces: wiring.namespaces,
      topology,
      backends,
      processes: [],
      router: { kind, ...driver.paths(o.dir) },
      nodes: topology.hosts
        .filter((h) => h.role === 'node')
        .map((h) => ({ name: h.name, root: join(o.dir, 'nodes', h.name) })),
      backendCommand: [],
      ...(realBackends.length > 0 && { realBackends }),
    };
    state = s;
    writeState(s);

    progress(`wiring ${wiring.namespaces.length} namespaces and ${topology.segments.length} segments`);
    await wire(wiring);
    if (s.flows === 'pinned') await setFlowPinning(s, true);

    // The router, the backend hosts and the LB nodes do not wait for each other: a node's HAProxy
    // finds its servers by health checks once they listen.
    const router = (async () => {
      progress(`starting the router (${driver.label}, VIPs by ${routing})`);
      await startRouter(s, model, recorder(s));
    })();
    const hosts = (async () => {
      s.backendCommand = await backendCommand(o.dir);
      const real = backends.flatMap((b) => b.real ?? []);
      progress(
        `starting ${backends.length} backend hosts` +
          (real.length === 0
            ? ''
            : ` (${real.length} real daemons: ${[...new Set(real.map((i) => i.daemon))].join(', ')})`),
      );
      await Promise.all(backends.map((b) => startBackendHost(s, b, bins, recorder(s))));
      progress('backend hosts ready');
    })();
    const nodes = (async () => {
      if (!o.deploy) return;
      progress(`deploying ${s.nodes.length} LB nodes (intentlb apply in each node's namespace)`);
      await deployAll(s, site.dir, o.deployNode ?? deployNode);
      progress('LB nodes deployed');
    })();
    const ssh = (async () => {
      progress(`starting sshd on ${s.nodes.length} LB nodes`);
      await startSsh(s, recorder(s));
    })();
    await settled([router, hosts, nodes, ssh]);
    const warnings = [...kept];
    if (o.deploy && routing === 'bgp') {
      progress('waiting for the nodes to announce every VIP (BGP)');
      const bgp = await settleBgp(s, model);
      if (bgp.length === 0) progress(`every VIP is learnt from every node`);
      warnings.push(...bgp);
    }
    const mgmt = managementWarning(s, model.site.management.allow);
    if (mgmt !== null) warnings.push(mgmt);
    s.phase = 'up';
    writeState(s);
    return { state: s, ms: Date.now() - t0, warnings };
  } catch (e) {
    if (state !== undefined) await teardown(state);
    throw e;
  } finally {
    lock.release();
  }
}

export interface ApplyOptions extends LabTarget {
  progress(line: string): void;
  deployNode?: DeployNode;
}

/**
 * Re-deploys a changed site to the running lab: the router's static routes and the backend
 * hosts follow the site, and every LB node runs `intentlb apply` again. Hosts and segments must
 * stay as they are (a new host needs `lab down` and `lab up`).
 */
export async function labApply(site: LabSite, o: ApplyOptions): Promise<LabState> {
  failOn(preflight(UP_TOOLS));
  const lock = lockLab(o.dir);
  try {
    const s = readState(o.dir);
    if (s === undefined || s.phase !== 'up') throw new LabError(`no lab is up in ${o.dir}`);
    failOn(preflight(routerOf(s).tools));
    failOn(routerOf(s).problems(site.model));
    const topology = topologyOf(site, s.prefix);
    const changed = hostChanges(s.topology, topology);
    if (changed.length > 0) {
      throw new LabError(
        `the site's hosts or segments changed (${changed.join('; ')}): \`intentlb lab down\`, then \`lab up\``,
      );
    }
    const { plans: backends } = assignReal(
      backendsOf(site.model, topology),
      s.realBackends ?? [],
      nodeAddresses(topology),
    );
    const bins = realBinaries(backends);
    const routing = vipRouting(site.model.site.ha, s.routing === 'static');
    if (typeof routing === 'object') throw new LabError(routing.error);
    s.topology = topology;
    s.routing = routing;
    // A site that switched between anycast and VRRP: pinning follows (it means nothing for VRRP).
    if (routing === 'onlink' && s.flows !== undefined) {
      await setFlowPinning(s, false);
      delete s.flows;
    } else if (routing !== 'onlink' && s.flows === undefined) {
      s.flows = 'pinned';
      await setFlowPinning(s, true);
    }
    s.site = site.dir;
    writeState(s);

    o.progress('updating the router');
    await reconfigureRouter(s, site.model, recorder(s));

    const before = new Map(s.backends.map((b) => [b.host, key(b)]));
    const redo = backends.filter((b) => before.get(b.host) !== key(b));
    const gone = s.backends.filter((b) => !backends.some((n) => n.host === b.host)).map((b) => b.host);
    const restart = new Set([...redo.map((b) => b.host), ...gone]);
    if (restart.size > 0) {
      o.progress(`restarting backend hosts ${[...restart].join(', ')}`);
      const old = s.processes.filter((p) => isBackendProcess(p) && restart.has(p.host));
      await stopProcesses(old);
      s.processes = s.processes.filter((p) => !old.includes(p));
      s.backends = backends;
      writeState(s);
      await Promise.all(redo.map((b) => startBackendHost(s, b, bins, recorder(s))));
    }
    if (s.deploy) {
      o.progress(`deploying ${s.nodes.length} LB nodes`);
      await deployAll(s, site.dir, o.deployNode ?? deployNode);
    }
    writeState(s);
    return s;
  } finally {
    lock.release();
  }
}

/** Removes the lab: processes, namespaces, files. Safe when nothing is up. */
export async function labDown(t: LabTarget): Promise<{ wasUp: boolean; ms: number; swept: number[] }> {
  const t0 = Date.now();
  const s = readState(t.dir);
  if (s === undefined) return { wasUp: false, ms: Date.now() - t0, swept: [] };
  const lock = lockLab(t.dir);
  try {
    const swept = await teardown(s);
    return { wasUp: true, ms: Date.now() - t0, swept };
  } finally {
    lock.release();
  }
}

/** The namespace of a lab host (`lab exec`). */
export function hostNamespace(s: LabState, host: string): string {
  const h = s.topology.hosts.find((x) => x.name === host);
  if (h === undefined) {
    throw new LabError(
      `no host "${host}" in the lab (hosts: ${s.topology.hosts.map((x) => x.name).join(', ')})`,
    );
  }
  return h.ns;
}

/** Waits for every task (none may still be starting processes when a failure tears down), then throws the failures. */
async function settled(tasks: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(tasks)).flatMap((r) =>
    r.status === 'rejected' ? [r.reason] : [],
  );
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) {
    throw new LabError(failed.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'));
  }
}

function failOn(problems: readonly string[]): void {
  if (problems.length > 0) throw new LabError(problems.join('\n'));
}

function topologyOf(site: LabSite, prefix: string): LabTopology {
  const r = deriveTopology({ model: site.model, inventory: site.inventory }, prefix);
  if (!r.ok)
    throw new LabError(
      `site ${site.dir} cannot run as a lab:\n${r.errors.map((e) => `  - ${e}`).join('\n')}`,
    );
  return r.topology;
}

function backendsOf(model: Model, topology: LabTopology): BackendPlan[] {
  const r = planBackends(model, topology);
  if (!r.ok)
    throw new LabError(
      `the backend hosts cannot serve the site:\n${r.errors.map((e) => `  - ${e}`).join('\n')}`,
    );
  return r.plans;
}

/** A spawn function that records each process in the state as soon as it runs. */
function recorder(s: LabState): (spec: SpawnSpec) => LabProcess {
  return (spec) => {
    const p = spawnDetached(spec);
    s.processes.push(p);
    writeState(s);
    return p;
  };
}

async function deployAll(s: LabState, siteDir: string, deploy: DeployNode): Promise<void> {
  const spawn = recorder(s);
  const results = await Promise.allSettled(
    s.nodes.map((n) =>
      deploy({
        node: n.name,
        ns: s.topology.hosts.find((h) => h.name === n.name)!.ns,
        root: n.root,
        site: siteDir,
        logDir: join(s.dir, 'logs'),
        supervisor: s.processes.find((p) => p.kind === 'supervise' && p.host === n.name),
        spawn,
      }),
    ),
  );
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [`${s.nodes[i]!.name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`]
      : [],
  );
  if (failed.length > 0) throw new LabError(`deploying the LB nodes failed:\n${failed.join('\n')}`);
}

function key(b: BackendPlan): string {
  return JSON.stringify([b.listen.map(formatListenSpec), b.real ?? []]);
}

/** The LB nodes' addresses: where the PROXY headers real daemons accept come from. */
function nodeAddresses(topology: LabTopology): string[] {
  return topology.hosts.filter((h) => h.role === 'node').flatMap((h) => h.addresses.map((a) => a.address));
}

/** The binaries of the real daemons the plans run; a missing one stops the lab before anything is made. */
function realBinaries(plans: readonly BackendPlan[]): BinaryPaths {
  const protocols = new Set(plans.flatMap((b) => (b.real ?? []).map((i) => i.protocol)));
  const r = locateBinaries([...protocols].map((p) => REAL_DAEMONS[p]));
  if (!r.ok) throw new LabError(r.problems.join('\n'));
  return r.paths;
}

/** Differences in hosts and segments between two topologies, for the message. */
function hostChanges(a: LabTopology, b: LabTopology): string[] {
  const out: string[] = [];
  const names = new Set([...a.hosts, ...b.hosts].map((h) => h.name));
  for (const n of names) {
    const x = a.hosts.find((h) => h.name === n);
    const y = b.hosts.find((h) => h.name === n);
    if (x === undefined) out.push(`new host ${n}`);
    else if (y === undefined) out.push(`host ${n} is gone`);
    else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`host ${n} changed`);
  }
  if (JSON.stringify(a.segments) !== JSON.stringify(b.segments)) out.push('the segments changed');
  return out;
}
