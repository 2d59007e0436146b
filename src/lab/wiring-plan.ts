/**
 * The lab's wiring as `ip -batch` scripts: namespaces, one bridge per segment inside the router's
 * namespace, a veth pair per host created directly between the router's namespace and the host's,
 * addresses and default routes. Pure; `wiring.ts` runs it. Nothing here touches the root
 * namespace's interfaces, routes or sysctls: the root namespace only gets `netns add/delete`.
 */
import { familyOf } from '../vocabulary/strings.ts';
import type { LabHost, LabTopology } from './topology.ts';

/** One `ip [-n ns] -batch -` run. */
export interface IpBatch {
  /** The namespace the commands act in; undefined: `netns add`/`delete` from the root namespace. */
  ns?: string;
  /** `ip -4` / `ip -6` for the whole batch (a batch line cannot carry the option). */
  family?: 4 | 6;
  lines: string[];
}

/** Sysctls set inside one namespace (`ip netns exec <ns> sysctl -w ...`). */
export interface NsSysctls {
  ns: string;
  settings: [string, string][];
}

export interface WiringPlan {
  /** Every namespace, router first. */
  namespaces: string[];
  /** Run in order; the batches of one phase are independent and may run in parallel. */
  phases: IpBatch[][];
  sysctls: NsSysctls[];
}

/** Routing on the router, and L4 hashing so one VIP's flows spread over every node (ECMP). */
export const ROUTER_SYSCTLS: [string, string][] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.ipv6.conf.all.forwarding', '1'],
  ['net.ipv4.fib_multipath_hash_policy', '1'],
  ['net.ipv6.fib_multipath_hash_policy', '1'],
];

/** The scripts that build the topology's namespaces and links. */
export function planWiring(topology: LabTopology): WiringPlan {
  const router = topology.hosts.find((h) => h.role === 'router')!;
  const others = topology.hosts.filter((h) => h.role !== 'router');
  const namespaces = topology.hosts.map((h) => h.ns);

  const routerLines = ['link set lo up'];
  for (const s of topology.segments) {
    // No multicast snooping: without a querier it can drop the neighbour discovery IPv6 needs.
    routerLines.push(`link add ${s.bridge} type bridge mcast_snooping 0`);
    for (const a of s.router) routerLines.push(addrLine(a.address, a.prefixLength, s.bridge));
    routerLines.push(`link set ${s.bridge} up`);
  }
  for (const h of others) {
    routerLines.push(`link add ${h.port} type veth peer name ${h.ifname} netns ${h.ns}`);
    routerLines.push(`link set ${h.port} master ${h.bridge}`);
    routerLines.push(`link set ${h.port} up`);
  }

  return {
    namespaces,
    phases: [
      [{ lines: namespaces.map((ns) => `netns add ${ns}`) }],
      [{ ns: router.ns, lines: routerLines }],
      others.map((h) => ({ ns: h.ns, lines: hostLines(h) })),
    ],
    sysctls: [{ ns: router.ns, settings: ROUTER_SYSCTLS }],
  };
}

/** The batch that removes namespaces (run with `-force`, so a missing one does not stop the rest). */
export function planUnwiring(namespaces: readonly string[]): IpBatch {
  return { lines: namespaces.map((ns) => `netns delete ${ns}`) };
}

function hostLines(h: LabHost): string[] {
  const lines = ['link set lo up'];
  for (const a of h.addresses) lines.push(addrLine(a.address, a.prefixLength, h.ifname));
  lines.push(`link set ${h.ifname} up`);
  if (h.gateway4 !== undefined) lines.push(`route add default via ${h.gateway4}`);
  if (h.gateway6 !== undefined) lines.push(`route add default via ${h.gateway6}`);
  return lines;
}

/** IPv6 addresses skip duplicate address detection: they are usable at once, and unique by design. */
export function addrLine(address: string, prefixLength: number, dev: string, verb = 'add'): string {
  return `addr ${verb} ${address}/${prefixLength} dev ${dev}${familyOf(address) === 6 ? ' nodad' : ''}`;
}
