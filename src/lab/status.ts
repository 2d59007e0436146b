/**
 * `intentlb lab status`: hosts and namespaces, processes alive, the router's BGP sessions (asked
 * of its daemon: BIRD's control socket, FRR's vtysh) and its routes to the VIPs, as the daemon
 * holds them and as the kernel forwards them (the ECMP next hops).
 */
import { execFile } from 'node:child_process';
import { familyOf } from '../vocabulary/strings.ts';
import { flowPinningOn, flowsText } from './flow-pinning.ts';
import { IP, listNamespaces } from './netns.ts';
import { isAlive } from './processes.ts';
import { ROUTERS, routerView } from './router.ts';
import type { RouterKind } from './router-driver.ts';
import type { LabState } from './state.ts';

export interface LabStatus {
  prefix: string;
  dir: string;
  site: string;
  routing: LabState['routing'];
  /** The router's daemon. */
  router: RouterKind;
  /** Whether the router pins connections to their node now (read from its nftables); not for VRRP. */
  flows?: 'pinned' | 'plain';
  phase: LabState['phase'];
  startedAt: string;
  hosts: { name: string; role: string; ns: string; addresses: string[]; namespace: boolean }[];
  processes: { kind: string; host: string; pid: number; alive: boolean; log: string }[];
  /** The router's BGP sessions; undefined when its daemon did not answer (see `routerError`). */
  bgp?: { name: string; state: string; info: string; since: string }[];
  /** VIP routes: the router daemon's (protocol, or BGP session, and next hops of each) and the kernel's next hops. */
  routes?: {
    vip: string;
    instance: string;
    router: { protocol: string; via: string[] }[];
    kernel: string[];
    /** VRRP (onlink routing): the LB nodes that hold the VIP on an interface right now. */
    holders?: string[];
  }[];
  routerError?: string;
  /** Every namespace there and every process alive. */
  healthy: boolean;
}

/** Collects the status of a running lab. */
export async function labStatus(s: LabState): Promise<LabStatus> {
  const present = new Set(listNamespaces());
  const hosts = s.topology.hosts.map((h) => ({
    name: h.name,
    role: h.role,
    ns: h.ns,
    addresses: h.addresses.map((a) => `${a.address}/${a.prefixLength}`),
    namespace: present.has(h.ns),
  }));
  const processes = s.processes.map((p) => ({
    kind: p.kind,
    host: p.host,
    pid: p.pid,
    alive: isAlive(p),
    log: p.log,
  }));
  const out: LabStatus = {
    prefix: s.prefix,
    dir: s.dir,
    site: s.site,
    routing: s.routing,
    router: s.router.kind ?? 'bird',
    phase: s.phase,
    startedAt: s.startedAt,
    hosts,
    processes,
    healthy: hosts.every((h) => h.namespace) && processes.every((p) => p.alive),
  };
  const routerNs = s.topology.hosts.find((h) => h.role === 'router')!.ns;
  if (s.routing !== 'onlink') out.flows = (await flowPinningOn(routerNs)) ? 'pinned' : 'plain';
  const kernel = await kernelRoutes(routerNs);
  const held = s.routing === 'onlink' ? await heldAddresses(s) : undefined;
  try {
    const view = await routerView(s);
    out.bgp = view.sessions.map(({ name, state, info, since }) => ({ name, state, info, since }));
    out.routes = s.topology.vips.map((v) => ({
      vip: v.address,
      instance: v.instance,
      router: view.routes.get(`${v.address}/${v.prefixLength}`) ?? [],
      kernel: kernel.get(v.address) ?? [],
      ...(held === undefined ? {} : { holders: held.get(v.address) ?? [] }),
    }));
  } catch (e) {
    out.routerError = e instanceof Error ? e.message : String(e);
    out.healthy = false;
  }
  return out;
}

/** The status for people. */
export function formatStatus(st: LabStatus): string {
  const lines: string[] = [];
  lines.push(
    `lab "${st.prefix}" (${st.phase}, since ${st.startedAt}): site ${st.site}, VIPs routed by ${st.routing}` +
      `${flowsText(st.flows)}; state in ${st.dir}`,
  );
  lines.push('', 'hosts:');
  const w = Math.max(...st.hosts.map((h) => h.name.length));
  const wn = Math.max(...st.hosts.map((h) => h.ns.length));
  for (const h of st.hosts) {
    const procs = st.processes
      .filter((p) => p.host === h.name)
      .map((p) => `${p.kind} ${p.pid} ${p.alive ? 'alive' : 'DEAD'}`);
    lines.push(
      `  ${h.name.padEnd(w)}  ${h.role.padEnd(7)}  ${h.ns.padEnd(wn)}${h.namespace ? '' : ' (MISSING)'}  ${h.addresses.join(' ')}${procs.length > 0 ? `  [${procs.join(', ')}]` : ''}`,
    );
  }
  const label = ROUTERS[st.router].label;
  if (st.routerError !== undefined) {
    lines.push('', `router: ${label} does not answer: ${st.routerError}`);
  } else {
    lines.push('', `BGP sessions (router, ${label}):`);
    if (st.bgp?.length === 0) lines.push('  none');
    for (const b of st.bgp ?? []) lines.push(`  ${b.name}  ${b.state}  ${b.info}  since ${b.since}`);
    lines.push('', 'routes to the VIPs (router):');
    const wv = Math.max(0, ...(st.routes ?? []).map((r) => r.vip.length));
    for (const r of st.routes ?? []) {
      const daemon = r.router.map((b) => `${b.protocol} via ${b.via.join(', ') || '?'}`).join('; ');
      const holders =
        r.holders === undefined ? '' : `  held by ${r.holders.length > 0 ? r.holders.join(', ') : 'NO NODE'}`;
      lines.push(
        `  ${r.vip.padEnd(wv)}  ${r.kernel.length > 0 ? `kernel via ${r.kernel.join(', ')}` : 'NO ROUTE'}${daemon === '' ? '' : `  (${st.router}: ${daemon})`}${holders}  ${r.instance}`,
      );
    }
  }
  lines.push('', st.healthy ? 'all hosts and processes are up' : 'NOT HEALTHY: see above');
  return `${lines.join('\n')}\n`;
}

interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  nexthops?: { gateway?: string }[];
}

/** VIP (host route) → the kernel's next hops, from `ip -j route` in the router's namespace. */
async function kernelRoutes(ns: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const family of ['-4', '-6']) {
    const text = await new Promise<string>((resolve) => {
      execFile(
        IP,
        ['-j', '-n', ns, family, 'route', 'show'],
        { encoding: 'utf8', timeout: 5000 },
        (err, so) => resolve(err === null ? so : '[]'),
      );
    });
    let routes: IpRoute[];
    try {
      routes = JSON.parse(text) as IpRoute[];
    } catch {
      routes = []; // `ip` failed (namespace gone) or printed no JSON: nothing to show
    }
    for (const r of routes) {
      if (r.dst === undefined) continue;
      const dst = r.dst.replace(familyOf(r.dst) === 4 ? /\/32$/ : /\/128$/, '');
      const hops =
        r.nexthops?.flatMap((h) => h.gateway ?? []) ??
        (r.gateway !== undefined ? [r.gateway] : r.dev !== undefined ? [`dev ${r.dev}`] : []);
      if (hops.length > 0) out.set(dst, hops);
    }
  }
  return out;
}

/** VIP → the LB nodes holding it on an interface other than `lo` (where keepalived puts it). */
async function heldAddresses(s: LabState): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const h of s.topology.hosts.filter((x) => x.role === 'node')) {
    const text = await new Promise<string>((resolve) => {
      execFile(IP, ['-j', '-n', h.ns, 'addr', 'show'], { encoding: 'utf8', timeout: 5000 }, (err, so) =>
        resolve(err === null ? so : '[]'),
      );
    });
    let links: { ifname?: string; addr_info?: { local?: string }[] }[];
    try {
      links = JSON.parse(text) as typeof links;
    } catch {
      links = []; // as for routes
    }
    for (const l of links) {
      if (l.ifname === 'lo') continue;
      for (const a of l.addr_info ?? []) {
        if (a.local === undefined) continue;
        out.set(a.local, [...(out.get(a.local) ?? []), h.name]);
      }
    }
  }
  return out;
}
