import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { ServiceScope } from '../infer/context.ts';
import type { ServiceModel } from '../model/index.ts';
import type { SiteContext } from '../validate/index.ts';
import { specialUse } from '../vocabulary/addresses.ts';

/** Checks across services: who claims which VIP:port and FQDN, and clashes with the platform. */
export function checkAcross(
  services: readonly ServiceModel[],
  scopes: ReadonlyMap<string, ServiceScope>,
  ctx: SiteContext,
): Diagnostic[] {
  const site = ctx.site;
  const out: Diagnostic[] = [];
  // Addresses the site already gives someone: a VIP there would be announced (BGP /32) or bound
  // over them. Inventory hosts first, so a node or peer listed in the inventory is named as such.
  const owners = new Map<string, string>();
  for (const [group, g] of ctx.groups) {
    for (const h of g.hosts) {
      for (const a of [h.address, h.address6])
        if (a !== undefined) owners.set(a, `the address of host ${h.name} (inventory group ${group})`);
    }
  }
  for (const p of site.ha.bgp?.peers ?? []) owners.set(p.address, `the address of BGP peer ${p.name}`);
  for (const n of site.nodes) {
    owners.set(n.address, `the address of node ${n.name}`);
    if (n.address6) owners.set(n.address6, `the address of node ${n.name}`);
  }
  const claims = new Map<string, { s: ServiceModel; key: 'vip' | 'vip6' }>();
  const names = new Map<string, ServiceModel>();
  for (const s of services) {
    const scope = scopes.get(s.id)!;
    for (const [key, addr] of [
      ['vip', s.vip],
      ['vip6', s.vip6],
    ] as const) {
      if (addr === undefined) continue;
      // Located only for a finding: most services have none.
      const where = () => scope.where(scope.get([key]) !== undefined ? [key] : ['fqdn']);
      // 0.0.0.0, ::, loopback: every node's own addresses (a bind would take its SSH and stats ports).
      const owner = owners.get(addr) ?? specialUse(addr);
      if (owner !== undefined) {
        out.push(
          diag('E_VIP_NODE', {
            message: `${key} ${addr} is ${owner}`,
            ...where(),
            path: key,
            hint: 'a VIP must be an address of its own',
          }),
        );
      }
      for (const l of s.listeners) {
        const claim = `${addr}:${l.port}`;
        const claimed = claims.get(claim);
        if (claimed) {
          const other = claimed.s;
          const o = scopes.get(other.id)!.where([claimed.key]).at;
          out.push(
            diag('E_VIP_CONFLICT', {
              message: `${addr} port ${l.port} is already claimed by service ${other.id}`,
              ...where(),
              path: key,
              hint: 'give one of the services another VIP or port',
              related: [{ ...o, message: `${other.id} claims it here` }],
            }),
          );
        } else claims.set(claim, { s, key });
      }
      if (s.listeners.some((l) => l.port === site.health.port)) {
        out.push(
          diag('E_VIP_CONFLICT', {
            message: `port ${site.health.port} on ${addr} is reserved for the health monitor (site.yaml health.port)`,
            ...scope.where(['ports']),
            path: 'ports',
          }),
        );
      }
    }
    for (const [i, name] of s.fqdns.entries()) {
      for (const l of s.listeners) {
        const key = `${name}:${l.port}`;
        const other = names.get(key);
        if (other && other.id !== s.id) {
          out.push(
            diag('E_FQDN_CONFLICT', {
              message: `${name} on port ${l.port} is already served by service ${other.id}`,
              ...scope.where(Array.isArray(scope.get(['fqdn'])) ? ['fqdn', i] : ['fqdn']),
              path: 'fqdn',
              hint: 'one name and port belongs to one service; use routes for several backends under one name',
            }),
          );
          break;
        }
        names.set(key, s);
      }
    }
  }
  return out;
}
