import { type Diagnostic, diag, type Location, type Result } from '../diagnostics/index.ts';
import { type LoadedSite, locate, type SourceFile } from '../load/index.ts';
import type { SiteModel } from '../model/index.ts';
import { canonicalPrefix, canonicalAddress as ip } from '../vocabulary/addresses.ts';
import { birdSymbol } from '../vocabulary/names.ts';
import {
  ansibleInventorySchema,
  dnsSchema,
  inventorySchema,
  type SiteIntent,
  siteSchema,
} from '../vocabulary/schemas.ts';
import { durationMs, isStrictIP, isStrictIPv4 } from '../vocabulary/strings.ts';
import { parseCerts } from './certs.ts';
import { validateFile } from './validate-file.ts';

export interface InventoryHost {
  name: string;
  address?: string;
  address6?: string;
}

export interface InventoryGroup {
  hosts: InventoryHost[];
  at: Location;
}

/** The platform facts every service is checked against. */
export interface SiteContext {
  site: SiteModel;
  siteFile: SourceFile;
  intent: SiteIntent;
  groups: Map<string, InventoryGroup>;
  /** false when inventory.yaml did not parse or validate: `groups` is then incomplete. */
  inventoryOk: boolean;
  dns: Map<string, string[]>;
  resolver: { enabled: boolean; timeoutMs: number };
}

/** Validates site.yaml, the inventory, dns.yaml and the certificate bundles. */
export function validateSite(loaded: LoadedSite): Result<SiteContext | undefined> {
  const diagnostics: Diagnostic[] = [];
  const groups = new Map<string, InventoryGroup>();
  const dns = new Map<string, string[]>();

  let inventoryOk = loaded.inventory?.ok ?? true;
  if (loaded.inventory?.ok) {
    const inv = readInventory(loaded.inventory, groups);
    diagnostics.push(...inv.diagnostics);
    // Unknown keys alone (reported) leave every group read: a group not found is then unknown.
    inventoryOk = inv.complete;
  }
  if (loaded.dns?.ok) {
    const r = validateFile(loaded.dns, dnsSchema, 'dns.yaml');
    diagnostics.push(...r.diagnostics);
    // One bad entry (reported above) must not make every other name unknown.
    const entries =
      r.value ??
      Object.fromEntries(
        Object.entries((loaded.dns.data ?? {}) as Record<string, unknown>).filter(
          ([name, v]) => dnsSchema.safeParse({ [name]: v }).success,
        ),
      );
    for (const [name, v] of Object.entries(entries as Record<string, string | string[]>))
      dns.set(name.toLowerCase().replace(/\.$/, ''), (Array.isArray(v) ? v : [v]).map(ip));
  }
  const certs = parseCerts(loaded.certs);
  diagnostics.push(...certs.diagnostics);

  const siteFile = loaded.site;
  if (!siteFile?.ok) return { value: undefined, diagnostics };
  const r = validateFile(siteFile, siteSchema, 'site.yaml');
  diagnostics.push(...r.diagnostics);
  if (!r.value) return { value: undefined, diagnostics };
  const s = r.value;
  diagnostics.push(...siteChecks(siteFile, s));

  const bgp = s.ha?.bgp;
  const vrrp = s.ha?.vrrp;
  const hsts = s.tls?.hsts;
  const site: SiteModel = {
    name: s.site,
    nodes: s.nodes.map((n) => ({
      name: n.name,
      address: ip(n.address),
      ...(n.address6 !== undefined && { address6: ip(n.address6) }),
      ...(n.interface !== undefined && { interface: n.interface }),
    })),
    ha: {
      mode: s.ha?.mode ?? 'none',
      ...(bgp && {
        bgp: {
          localAs: bgp.local_as,
          peers: bgp.peers.map((p) => ({
            name: p.name,
            address: ip(p.address),
            as: p.as,
            ...(p.password !== undefined && { password: p.password }),
          })),
          bfd: bgp.bfd === false ? 'off' : bgp.bfd === true || bgp.bfd === undefined ? 'fast' : bgp.bfd,
          communities: bgp.communities ?? [],
          ...(bgp.med !== undefined && { med: bgp.med }),
        },
      }),
      ...(vrrp && {
        vrrp: {
          interface: vrrp.interface,
          routerIdBase: vrrp.router_id_base,
          unicast: vrrp.unicast ?? true,
          advertInt: vrrp.advert_int ?? 1,
        },
      }),
    },
    tls: {
      policy: s.tls?.policy ?? 'intermediate',
      ...(hsts !== undefined && hsts !== false && { hstsSeconds: hsts === true ? 31_536_000 : hsts }),
    },
    instances: s.instances ?? 'per-vip',
    teams: Object.entries(s.teams ?? {})
      .map(([name, t]) => ({
        name,
        path: t.path.replace(/^\/+|\/+$/g, ''),
        vipPools: (t.vip_pools ?? []).map(canonicalPrefix),
        ports: t.ports ?? [],
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    health: { port: s.health?.port ?? 8999, path: s.health?.path ?? '/_intentlb/health' },
    management: {
      allow: (s.management?.allow ?? []).map(canonicalPrefix),
      statsPortBase: s.management?.stats_port_base ?? 20000,
    },
    certs: certs.certs,
  };
  const resolver = { enabled: s.dns?.resolver ?? false, timeoutMs: durationMs(s.dns?.timeout ?? 2000) };
  return { value: { site, siteFile, intent: s, groups, inventoryOk, dns, resolver }, diagnostics };
}

function siteChecks(file: SourceFile, s: SiteIntent): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, number>();
  s.nodes.forEach((n, i) => {
    for (const [key, v] of [
      ['name', n.name],
      ['address', n.address],
      ['address6', n.address6],
    ] as const) {
      if (v === undefined) continue;
      const first = seen.get(key === 'name' ? v : ip(v));
      if (first !== undefined) {
        out.push(
          diag('E_SITE', {
            message: `node ${n.name}: ${key} ${v} is already used by node ${s.nodes[first]?.name}`,
            at: locate(file, ['nodes', i, key], 'value'),
          }),
        );
      } else seen.set(key === 'name' ? v : ip(v), i);
    }
  });
  out.push(
    ...symbolConflicts(
      file,
      'node',
      s.nodes.map((n, i) => ({ name: n.name, path: ['nodes', i, 'name'] })),
    ),
    ...symbolConflicts(
      file,
      'peer',
      (s.ha?.bgp?.peers ?? []).map((p, i) => ({ name: p.name, path: ['ha', 'bgp', 'peers', i, 'name'] })),
    ),
    ...symbolConflicts(
      file,
      'team',
      Object.keys(s.teams ?? {}).map((name) => ({ name, path: ['teams', name] })),
    ),
  );
  const mode = s.ha?.mode ?? 'none';
  if (mode === 'anycast' && !s.ha?.bgp) {
    out.push(
      diag('E_SITE', {
        message: 'ha.mode anycast needs ha.bgp (local_as and peers)',
        at: locate(file, ['ha', 'mode'], 'value'),
      }),
    );
  }
  if (mode === 'vrrp' && !s.ha?.vrrp) {
    out.push(
      diag('E_SITE', {
        message: 'ha.mode vrrp needs ha.vrrp (interface, router_id_base)',
        at: locate(file, ['ha', 'mode'], 'value'),
      }),
    );
  }
  return out;
}

/**
 * Names that become one BIRD symbol (`a-b`, `a.b`, `a_b`): peers are the sessions `bgp_<peer>`,
 * teams name the HAProxy instances of `per-group` (announced as `vip_<team>`), and the lab router
 * names a session `<peer>_<node>`. Exact repeats of a node name are E_SITE above.
 */
function symbolConflicts(
  file: SourceFile,
  what: string,
  list: readonly { name: string; path: (string | number)[] }[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, { name: string; path: (string | number)[] }>();
  for (const x of list) {
    const key = birdSymbol(x.name);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, x);
      continue;
    }
    if (first.name === x.name && what === 'node') continue;
    out.push(
      diag('E_NAME_CONFLICT', {
        message: `${what} ${x.name} and ${what} ${first.name} are one name in BIRD (${key})`,
        at: locate(file, x.path, what === 'team' ? 'key' : 'value'),
        hint: 'rename one: names that differ only in `-`, `.` or `_` collide',
        related: [
          {
            ...locate(file, first.path, what === 'team' ? 'key' : 'value'),
            message: `${what} ${first.name} is here`,
          },
        ],
      }),
    );
  }
  return out;
}

/** Reads the inventory's groups; `complete` when every group could be read. */
function readInventory(
  file: SourceFile,
  groups: Map<string, InventoryGroup>,
): { diagnostics: Diagnostic[]; complete: boolean } {
  const data = file.data as Record<string, unknown> | null;
  if (data && typeof data === 'object' && 'all' in data) return readAnsible(file, groups);
  const r = validateFile(file, inventorySchema, 'inventory.yaml');
  for (const [g, group] of Object.entries(r.value?.groups ?? {})) {
    const hosts: InventoryHost[] = Object.entries(group?.hosts ?? {}).map(([name, h]) => {
      if (typeof h === 'string') {
        const a = ip(h);
        return isStrictIPv4(a) ? { name, address: a } : { name, address6: a };
      }
      return {
        name,
        ...(h.address !== undefined && { address: ip(h.address) }),
        ...(h.address6 !== undefined && { address6: ip(h.address6) }),
      };
    });
    groups.set(g, {
      hosts: hosts.sort((a, b) => a.name.localeCompare(b.name)),
      at: locate(file, ['groups', g], 'key'),
    });
  }
  return { diagnostics: r.diagnostics, complete: r.value !== undefined };
}

type AnsibleGroup = {
  hosts?: Record<string, unknown> | null;
  children?: Record<string, AnsibleGroup | null> | null;
};

/**
 * An Ansible YAML inventory, resolved as Ansible does: a group may be mentioned under several
 * parents and every mention adds to it; a group's hosts include its children's; a host's
 * variables merge over all its mentions.
 */
function readAnsible(
  file: SourceFile,
  groups: Map<string, InventoryGroup>,
): { diagnostics: Diagnostic[]; complete: boolean } {
  const r = validateFile(file, ansibleInventorySchema, 'the Ansible inventory');
  if (!r.value) return { diagnostics: r.diagnostics, complete: false };
  const hostTable = new Map<string, InventoryHost>();
  const own = new Map<string, { hosts: Set<string>; children: Set<string>; at: Location }>();
  const visit = (name: string, g: AnsibleGroup | null, path: (string | number)[]): void => {
    let entry = own.get(name);
    if (!entry) {
      entry = { hosts: new Set(), children: new Set(), at: locate(file, path, 'key') };
      own.set(name, entry);
    }
    for (const [host, vars] of Object.entries(g?.hosts ?? {})) {
      const v = (vars ?? {}) as { ansible_host?: string; ansible_host6?: string };
      const h = hostTable.get(host) ?? { name: host };
      const written = v.ansible_host ?? (isStrictIP(host) ? host : undefined);
      const addr = written === undefined ? undefined : ip(written);
      if (addr !== undefined) {
        if (isStrictIPv4(addr)) h.address = addr;
        else h.address6 = addr;
      }
      if (v.ansible_host6 !== undefined) h.address6 = ip(v.ansible_host6);
      hostTable.set(host, h);
      entry.hosts.add(host);
    }
    for (const [child, cg] of Object.entries(g?.children ?? {})) {
      entry.children.add(child);
      visit(child, cg, [...path, 'children', child]);
    }
  };
  visit('all', r.value.all as AnsibleGroup, ['all']);
  const resolve = (name: string, seen: Set<string>): Set<string> => {
    const entry = own.get(name)!;
    const out = new Set(entry.hosts);
    for (const child of entry.children) {
      if (seen.has(child)) continue; // a group listed under its own descendant
      for (const h of resolve(child, new Set([...seen, child]))) out.add(h);
    }
    return out;
  };
  for (const [name, entry] of own) {
    const hosts = [...resolve(name, new Set([name]))].map((h) => hostTable.get(h)!);
    groups.set(name, { hosts: hosts.sort((a, b) => a.name.localeCompare(b.name)), at: entry.at });
  }
  return { diagnostics: r.diagnostics, complete: true };
}
