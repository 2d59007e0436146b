import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { ServiceScope } from '../infer/context.ts';
import type { PathSegment } from '../load/index.ts';
import type { BackendModel, ServiceModel } from '../model/index.ts';
import type { SiteContext } from '../validate/index.ts';
import { specialUse } from '../vocabulary/addresses.ts';

/**
 * Servers no backend may have: a load-balancer node's own address (HAProxy would connect to the
 * node's SSH, stats or BGP ports), any VIP of the site (a loop back into HAProxy), and
 * special-use addresses (loopback, link-local such as the cloud metadata service, unspecified,
 * multicast, broadcast). Addresses are canonical (see `canonicalAddress`), so text compares.
 */
export function checkBackendAddresses(
  services: readonly ServiceModel[],
  scopes: ReadonlyMap<string, ServiceScope>,
  ctx: SiteContext,
): Diagnostic[] {
  const taken = new Map<string, string>();
  for (const n of ctx.site.nodes) {
    taken.set(n.address, `the address of load-balancer node ${n.name}`);
    if (n.address6 !== undefined) taken.set(n.address6, `the address of load-balancer node ${n.name}`);
  }
  for (const s of services) {
    for (const a of [s.vip, s.vip6]) if (a !== undefined) taken.set(a, `a VIP of service ${s.id} (a loop)`);
  }
  const why = (address: string) => taken.get(address) ?? specialUse(address);

  const out: Diagnostic[] = [];
  for (const s of services) {
    const scope = scopes.get(s.id)!;
    const backends: [BackendModel, PathSegment[]][] = [
      [s.backend, ['backend']],
      ...s.routes.map((r, i): [BackendModel, PathSegment[]] => [r.backend, ['routes', i, 'backend']]),
    ];
    for (const [b, at] of backends) {
      // The group's hosts come first, then the servers written in `servers:` (see buildBackend).
      const written = scope.get([...at, 'servers']);
      const fromGroup = b.servers.length - (Array.isArray(written) ? written.length : 0);
      b.servers.forEach((server, i) => {
        const reason = why(server.address);
        if (reason === undefined) return;
        const group = i < fromGroup ? (scope.get([...at, 'group']) as string) : undefined;
        const where =
          group === undefined
            ? scope.where([...at, 'servers', i - fromGroup, 'address'])
            : scope.where([...at, 'group']);
        const groupAt = group === undefined ? undefined : ctx.groups.get(group)?.at;
        out.push(
          diag('E_BACKEND_ADDRESS', {
            message: `server ${server.name}${group === undefined ? '' : ` (inventory group ${group})`} at ${server.address} is ${reason}`,
            ...where,
            ...(groupAt && {
              related: [...(where.related ?? []), { ...groupAt, message: `group ${group} is defined here` }],
            }),
            path: [...at, 'servers'].join('.'),
            hint: 'a server is a host behind the load balancer: give its real address',
          }),
        );
      });
    }
  }
  return out;
}
