import { PORT_SPAN } from '../vocabulary/schemas.ts';
import { NODE_PORTS } from './node-ports.ts';
import type { InstanceModel, ServiceModel, SiteModel } from './types.ts';

export { PORT_SPAN };

/**
 * Maps services to HAProxy processes. per-vip: services sharing any address share a process
 * (named after the first service id); per-group: one per team or top folder; single: one.
 */
export function groupInstances(services: readonly ServiceModel[], site: SiteModel): InstanceModel[] {
  const groups = new Map<string, ServiceModel[]>();
  const add = (key: string, s: ServiceModel): void => {
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
  };
  if (site.instances === 'single') {
    for (const s of services) add(site.name, s);
  } else if (site.instances === 'per-group') {
    for (const s of services) add(s.team ?? s.id.split('/')[0] ?? s.id, s);
  } else {
    for (const list of sharingAddresses(services)) {
      const first = [...list].sort((a, b) => a.id.localeCompare(b.id))[0]!;
      add(slug(first.id), first);
      for (const s of list) if (s !== first) add(slug(first.id), s);
    }
  }
  const names = [...groups.keys()].sort();
  const ports = stablePorts(names, site.management.statsPortBase);
  return names.map((name) => {
    const list = groups.get(name)!.sort((a, b) => a.id.localeCompare(b.id));
    return {
      name: slug(name),
      services: list.map((s) => s.id),
      addresses: [...new Set(list.flatMap(addresses))].sort(),
      statsPort: ports.get(name)!,
    };
  });
}

/**
 * Services that share an address, transitively: a service with vip A and vip6 X is with any other
 * on A or X. Union-find over service indexes; groups in order of their first service, each in
 * service order.
 */
function sharingAddresses(services: readonly ServiceModel[]): ServiceModel[][] {
  const parent = services.map((_, i) => i);
  const root = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r]!;
    for (let x = i; parent[x] !== r; ) {
      const up = parent[x]!;
      parent[x] = r;
      x = up;
    }
    return r;
  };
  const owner = new Map<string, number>();
  services.forEach((s, i) => {
    for (const a of addresses(s)) {
      const o = owner.get(a);
      if (o === undefined) owner.set(a, i);
      else parent[root(i)] = root(o);
    }
  });
  const byRoot = new Map<number, ServiceModel[]>();
  services.forEach((s, i) => {
    const r = root(i);
    const list = byRoot.get(r);
    if (list) list.push(s);
    else byRoot.set(r, [s]);
  });
  return [...byRoot.values()];
}

function addresses(s: ServiceModel): string[] {
  return [s.vip, s.vip6].filter((a): a is string => a !== undefined);
}

/** An instance name usable as a file name, systemd instance and HAProxy token. */
export function slug(id: string): string {
  return id.replace(/\//g, '-').replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** The node's own ports (SSH, BGP, Icinga, healthd) inside the stats port span from `base`. */
function reservedSlots(base: number): number[] {
  return NODE_PORTS.filter((p) => p >= base && p < base + PORT_SPAN).map((p) => p - base);
}

/** How many HAProxy instances a site can have with stats ports from `base`. */
export function statsPortCapacity(base: number): number {
  return PORT_SPAN - reservedSlots(base).length;
}

/**
 * A stats port per instance from a hash of its name, so adding or removing one instance does not
 * move the others' ports (which would reload them). Collisions probe to the next free port; the
 * node's own ports (NODE_PORTS) are never handed out.
 */
export function stablePorts(names: readonly string[], base: number): Map<string, number> {
  // next[i] === i: slot i is free; else a slot to try after it. Probing follows the chain to the
  // first free slot (linear probing, without walking a long run of taken slots again and again).
  const next = Int32Array.from({ length: PORT_SPAN }, (_, i) => i);
  for (const slot of reservedSlots(base)) next[slot] = (slot + 1) % PORT_SPAN;
  const capacity = statsPortCapacity(base);
  const out = new Map<string, number>();
  const sorted = [...names].sort();
  // More instances than ports: `check` reports E_SITE and nothing is built; the ones past the span
  // get ports beyond it here, so that the model can still be made (probing would never end).
  for (const [i, name] of sorted.slice(capacity).entries()) out.set(name, base + PORT_SPAN + i);
  for (const name of sorted.slice(0, capacity)) {
    const slot = freeSlot(next, fnv1a(name) % PORT_SPAN);
    next[slot] = (slot + 1) % PORT_SPAN;
    out.set(name, base + slot);
  }
  return out;
}

/** The first free slot at or after `from`, cyclically; shortens the chain it walked. */
function freeSlot(next: Int32Array, from: number): number {
  let free = from;
  while (next[free] !== free) free = next[free]!;
  for (let x = from; x !== free; ) {
    const after = next[x]!;
    next[x] = free;
    x = after;
  }
  return free;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
