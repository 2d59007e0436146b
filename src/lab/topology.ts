/**
 * The lab's topology, derived from a compiled site: which hosts exist (pinned names), their
 * addresses, the segments that connect them to the router, and the VIPs the router must reach.
 * Pure: no namespaces are touched here (see `wiring-plan.ts` and `wiring.ts`).
 */
import type { BackendModel, Model } from '../model/index.ts';
import type { InventoryHost } from '../validate/index.ts';
import { familyOf, prefixContains } from '../vocabulary/strings.ts';
import {
  canonical,
  clientSegmentCandidates,
  compareAddresses,
  firstFreeAddress,
  inLabRanges,
  LAB_RANGES,
  nthAddress,
  overlaps,
  SEGMENT_LENGTH,
  segmentOf,
} from './addresses.ts';
import { UnionFind } from './union-find.ts';

/** The namespace prefix of `intentlb lab` when none is given. */
export const DEFAULT_PREFIX = 'ilb-';

/** What a host is for. The names `router` and `client` are pinned. */
export type HostRole = 'router' | 'client' | 'node' | 'backend';

/** An address on an interface, with the segment (bridge) it belongs to. */
export interface LabAddress {
  address: string;
  prefixLength: number;
  /** The segment's bridge name. */
  bridge: string;
}

/** One host: a network namespace. */
export interface LabHost {
  name: string;
  role: HostRole;
  ns: string;
  /** The host's interface toward the router (the router itself has one bridge per segment: ''). */
  ifname: string;
  /** The veth end in the router's namespace ('' for the router). */
  port: string;
  /** The bridge the host is attached to ('' for the router). */
  bridge: string;
  addresses: LabAddress[];
  gateway4?: string;
  gateway6?: string;
}

/** One layer-2 segment: a bridge in the router's namespace, with one or more prefixes. */
export interface LabSegment {
  bridge: string;
  /** The /24 and /64 prefixes on it, sorted. */
  prefixes: string[];
  /** The router's addresses on it. */
  router: LabAddress[];
  /** The client's own segment. */
  client: boolean;
}

/** A VIP the router must reach, and the HAProxy instance that serves it. */
export interface LabVip {
  address: string;
  /** 32 or 128. */
  prefixLength: number;
  instance: string;
}

/** The whole lab. */
export interface LabTopology {
  prefix: string;
  site: string;
  /** Router, client, LB nodes (site order), then backend hosts (by name). */
  hosts: LabHost[];
  segments: LabSegment[];
  vips: LabVip[];
  /** The router's BIRD router id: its IPv4 address on the first LB node's segment. */
  routerId: string;
}

export type TopologyResult = { ok: true; topology: LabTopology } | { ok: false; errors: string[] };

export interface TopologyInput {
  model: Model;
  /** Every inventory host (each name once). */
  inventory: readonly InventoryHost[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/;
const IFNAME_MAX = 15;
const RESERVED = new Set(['router', 'client']);

interface Claim {
  role: 'node' | 'backend';
  addresses: Set<string>;
  /** What named it, for messages. */
  origin: string;
}

/** Whether a string is usable as the lab's namespace prefix. */
export function isValidPrefix(prefix: string): boolean {
  return PREFIX.test(prefix);
}

/** Derives the lab from a compiled site; every problem is reported, none thrown. */
export function deriveTopology(input: TopologyInput, prefix = DEFAULT_PREFIX): TopologyResult {
  const { model } = input;
  const errors: string[] = [];
  if (!isValidPrefix(prefix)) {
    errors.push(`namespace prefix "${prefix}" must be 1-16 of A-Z a-z 0-9 _ . - (not starting with . _ -)`);
  }
  const claims = collectHosts(input, errors);
  const vips = collectVips(model);
  const peers = model.site.ha.bgp?.peers ?? [];
  checkAddresses(claims, vips, peers, errors);
  if (errors.length > 0) return { ok: false, errors };

  // Segments: every host address lies in a /24 or /64; the prefixes of one host share its link.
  const links = new UnionFind();
  for (const c of claims.values()) {
    const ps = [...c.addresses].map(segmentOf);
    for (const p of ps) links.add(p);
    for (const p of ps.slice(1)) links.union(ps[0]!, p);
  }
  const groups = links.groups().map((g) => g.sort(compareAddresses));
  groups.sort((a, b) => compareAddresses(a[0]!, b[0]!));
  const bridgeOf = new Map<string, string>();
  groups.forEach((g, i) => {
    for (const p of g) bridgeOf.set(p, `br${i}`);
  });

  const taken = new Set<string>([...claims.values()].flatMap((c) => [...c.addresses]));
  for (const v of vips) taken.add(v.address);
  const nodePrefixes = new Set(
    model.site.nodes.flatMap((n) => [n.address, n.address6].filter((a) => a !== undefined).map(segmentOf)),
  );
  const routerOn = new Map<string, string[]>();
  for (const peer of peers) {
    const p = segmentOf(canonical(peer.address));
    if (!nodePrefixes.has(p)) {
      errors.push(
        `BGP peer ${peer.name} (${peer.address}) is not on a segment of the LB nodes (${[...nodePrefixes].join(', ')}): the lab router stands in only for directly connected peers`,
      );
      continue;
    }
    routerOn.set(p, [...(routerOn.get(p) ?? []), canonical(peer.address)]);
  }
  const segments: LabSegment[] = groups.map((g) => {
    const bridge = bridgeOf.get(g[0]!)!;
    const router: LabAddress[] = [];
    for (const p of g) {
      let addrs = routerOn.get(p);
      if (addrs === undefined) {
        const free = firstFreeAddress(p, taken);
        if (free === undefined) errors.push(`segment ${p} has no free address for the router`);
        addrs = free === undefined ? [] : [free];
      }
      for (const a of addrs) router.push({ address: a, prefixLength: prefixLength(p), bridge });
    }
    return { bridge, prefixes: g, router, client: false };
  });
  const client = clientSegment(model, segments, vips, errors);
  if (errors.length > 0) return { ok: false, errors };
  segments.push(client.segment);

  const routerAddressOn = (prefix: string): string | undefined =>
    segments.flatMap((s) => s.router).find((r) => prefixContains(prefix, r.address))?.address;

  const hosts: LabHost[] = [
    {
      name: 'router',
      role: 'router',
      ns: `${prefix}router`,
      ifname: '',
      port: '',
      bridge: '',
      addresses: segments.flatMap((s) => s.router),
    },
    client.host(prefix),
  ];
  const ifnameOf = (name: string): string =>
    model.site.nodes.find((n) => n.name === name)?.interface ??
    (model.site.ha.mode === 'vrrp' ? model.site.ha.vrrp?.interface : undefined) ??
    'eth0';
  const ordered = [
    ...model.site.nodes.map((n) => n.name),
    ...[...claims.keys()].filter((n) => claims.get(n)!.role === 'backend').sort(),
  ];
  ordered.forEach((name, i) => {
    const c = claims.get(name)!;
    const addresses = [...c.addresses].sort(compareAddresses).map((address) => {
      const seg = segmentOf(address);
      return { address, prefixLength: prefixLength(seg), bridge: bridgeOf.get(seg)! };
    });
    const v4 = addresses.find((a) => familyOf(a.address) === 4);
    const v6 = addresses.find((a) => familyOf(a.address) === 6);
    const gateway4 = v4 && routerAddressOn(segmentOf(v4.address));
    const gateway6 = v6 && routerAddressOn(segmentOf(v6.address));
    const ifname = c.role === 'node' ? ifnameOf(name) : 'eth0';
    if (ifname.length > IFNAME_MAX || !NAME.test(ifname)) {
      errors.push(`interface name "${ifname}" of node ${name} is not a usable Linux interface name`);
    }
    hosts.push({
      name,
      role: c.role,
      ns: `${prefix}${name}`,
      ifname,
      port: name.length <= IFNAME_MAX - 2 ? `v-${name}` : `vh${i}`,
      bridge: addresses[0]!.bridge,
      addresses,
      ...(gateway4 !== undefined && { gateway4 }),
      ...(gateway6 !== undefined && { gateway6 }),
    });
  });
  if (errors.length > 0) return { ok: false, errors };

  const firstNode = model.site.nodes[0];
  const routerId =
    (firstNode && routerAddressOn(segmentOf(firstNode.address))) ??
    segments.flatMap((s) => s.router).find((r) => familyOf(r.address) === 4)!.address;
  return { ok: true, topology: { prefix, site: model.site.name, hosts, segments, vips, routerId } };
}

/** The backends of a service: its own and its routes', each once. */
export function backendsOf(model: Model): BackendModel[] {
  const seen = new Map<string, BackendModel>();
  for (const s of model.services) {
    for (const b of [s.backend, ...s.routes.map((r) => r.backend)])
      if (!seen.has(b.name)) seen.set(b.name, b);
  }
  return [...seen.values()];
}

function collectHosts(input: TopologyInput, errors: string[]): Map<string, Claim> {
  const { model } = input;
  const claims = new Map<string, Claim>();
  const checkName = (name: string, what: string): boolean => {
    if (RESERVED.has(name)) {
      errors.push(`${what} is named "${name}", a name the lab reserves for its own ${name}: rename it`);
      return false;
    }
    if (!NAME.test(name) || name.length > 48) {
      errors.push(`${what}: "${name}" cannot name a network namespace (A-Z a-z 0-9 _ . -, at most 48)`);
      return false;
    }
    return true;
  };
  for (const n of model.site.nodes) {
    if (!checkName(n.name, `LB node ${n.name}`)) continue;
    const addresses = [n.address, n.address6].filter((a) => a !== undefined).map(canonical);
    claims.set(n.name, { role: 'node', addresses: new Set(addresses), origin: `LB node ${n.name}` });
  }
  const claim = (name: string, address: string, origin: string): void => {
    const a = canonical(address);
    const c = claims.get(name);
    if (c === undefined) {
      if (checkName(name, origin)) claims.set(name, { role: 'backend', addresses: new Set([a]), origin });
    } else if (c.role === 'node' && !c.addresses.has(a)) {
      errors.push(`${origin} (${address}) has the name of ${c.origin} but another address`);
    } else if (c.role === 'backend') {
      c.addresses.add(a);
    }
  };
  for (const h of input.inventory) {
    for (const a of [h.address, h.address6])
      if (a !== undefined) claim(h.name, a, `inventory host ${h.name}`);
  }
  for (const s of model.services) {
    for (const b of [s.backend, ...s.routes.map((r) => r.backend)]) {
      for (const srv of b.servers) claim(srv.name, srv.address, `server ${srv.name} of ${s.id}`);
    }
  }
  return claims;
}

function collectVips(model: Model): LabVip[] {
  const vips = model.instances.flatMap((inst) =>
    inst.addresses.map((a) => ({
      address: canonical(a),
      prefixLength: familyOf(a) === 4 ? 32 : 128,
      instance: inst.name,
    })),
  );
  return vips.sort((a, b) => compareAddresses(a.address, b.address));
}

function checkAddresses(
  claims: ReadonlyMap<string, Claim>,
  vips: readonly LabVip[],
  peers: readonly { name: string; address: string }[],
  errors: string[],
): void {
  const outside: string[] = [];
  const owner = new Map<string, string>();
  for (const c of claims.values()) {
    for (const a of c.addresses) {
      if (!inLabRanges(a)) outside.push(`${a} (${c.origin})`);
      const other = owner.get(a);
      if (other !== undefined) errors.push(`${a} is claimed by ${other} and by ${c.origin}`);
      owner.set(a, c.origin);
    }
  }
  for (const v of vips) {
    if (!inLabRanges(v.address)) outside.push(`${v.address} (VIP of ${v.instance})`);
    const other = owner.get(v.address);
    if (other !== undefined) errors.push(`VIP ${v.address} of ${v.instance} is also the address of ${other}`);
  }
  for (const p of peers) {
    if (!inLabRanges(p.address)) outside.push(`${p.address} (BGP peer ${p.name})`);
    const other = owner.get(canonical(p.address));
    if (other !== undefined) errors.push(`BGP peer ${p.name} (${p.address}) is also the address of ${other}`);
  }
  if (outside.length > 0) {
    errors.push(
      `the lab uses only ${LAB_RANGES.join(' and ')}, and this site has addresses outside them: ${outside.join(', ')}`,
    );
  }
}

/** A /24 and a /64 that collide with nothing in the site, for the client and the router. */
function clientSegment(
  model: Model,
  segments: readonly LabSegment[],
  vips: readonly LabVip[],
  errors: string[],
): { segment: LabSegment; host(prefix: string): LabHost } {
  const used = [
    ...segments.flatMap((s) => s.prefixes),
    ...vips.map((v) => `${v.address}/${v.prefixLength}`),
    ...model.site.teams.flatMap((t) => t.vipPools),
    ...(model.site.ha.bgp?.peers ?? []).map((p) => `${p.address}/${familyOf(p.address) === 4 ? 32 : 128}`),
  ];
  const pick = (family: 4 | 6): string | undefined =>
    clientSegmentCandidates(family).find((c) => !used.some((u) => overlaps(c, u)));
  const v4 = pick(4);
  const v6 = pick(6);
  if (v4 === undefined) errors.push('no /24 in 198.18.0.0/15 is free of the site for the client segment');
  if (v6 === undefined) errors.push('no /64 in 2001:db8::/32 is free of the site for the client segment');
  const bridge = 'br-client';
  const prefixes = [v4, v6].filter((p) => p !== undefined);
  const at = (n: number): LabAddress[] =>
    prefixes.map((p) => ({ address: nthAddress(p, n), prefixLength: prefixLength(p), bridge }));
  const router = at(1);
  return {
    segment: { bridge, prefixes, router, client: true },
    host: (prefix) => ({
      name: 'client',
      role: 'client',
      ns: `${prefix}client`,
      ifname: 'eth0',
      port: 'v-client',
      bridge,
      addresses: at(2),
      ...(v4 !== undefined && { gateway4: nthAddress(v4, 1) }),
      ...(v6 !== undefined && { gateway6: nthAddress(v6, 1) }),
    }),
  };
}

function prefixLength(prefix: string): number {
  return Number(prefix.split('/')[1] ?? SEGMENT_LENGTH[familyOf(prefix)]);
}

/** The inventory's hosts, each name once (a host in several groups has the same addresses in each). */
export function inventoryHosts(
  groups: ReadonlyMap<string, { hosts: readonly InventoryHost[] }>,
): InventoryHost[] {
  const byName = new Map<string, InventoryHost>();
  for (const g of groups.values()) {
    for (const h of g.hosts) {
      const had = byName.get(h.name);
      byName.set(h.name, {
        name: h.name,
        ...((h.address ?? had?.address) !== undefined && { address: (h.address ?? had?.address)! }),
        ...((h.address6 ?? had?.address6) !== undefined && { address6: (h.address6 ?? had?.address6)! }),
      });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
