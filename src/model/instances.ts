import type { InstanceModel, ServiceModel, SiteModel } from './types.ts';

const PORT_SPAN = 10_000;

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
    // Union-find over addresses: a service with vip A and vip6 X shares a process with any other on A or X.
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r)!;
      parent.set(x, r);
      return r;
    };
    const union = (a: string, b: string): void => {
      const ra = find(a);
      const rb = find(b);
      if (ra === rb) return;
      const [keep, drop] = ra < rb ? [ra, rb] : [rb, ra];
      parent.set(drop, keep);
    };
    for (const s of services) {
      parent.set(`svc:${s.id}`, `svc:${s.id}`);
      for (const a of addresses(s)) if (!parent.has(`ip:${a}`)) parent.set(`ip:${a}`, `ip:${a}`);
    }
    for (const s of services) for (const a of addresses(s)) union(`svc:${s.id}`, `ip:${a}`);
    const byRoot = new Map<string, ServiceModel[]>();
    for (const s of services) {
      const root = find(`svc:${s.id}`);
      const list = byRoot.get(root);
      if (list) list.push(s);
      else byRoot.set(root, [s]);
    }
    for (const list of byRoot.values()) {
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

function addresses(s: ServiceModel): string[] {
  return [s.vip, s.vip6].filter((a): a is string => a !== undefined);
}

/** An instance name usable as a file name, systemd instance and HAProxy token. */
export function slug(id: string): string {
  return id.replace(/\//g, '-').replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * A stats port per instance from a hash of its name, so adding or removing one instance does not
 * move the others' ports (which would reload them). Collisions probe to the next free port.
 */
export function stablePorts(names: readonly string[], base: number): Map<string, number> {
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const name of [...names].sort()) {
    let slot = fnv1a(name) % PORT_SPAN;
    while (used.has(slot)) slot = (slot + 1) % PORT_SPAN;
    used.add(slot);
    out.set(name, base + slot);
  }
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
