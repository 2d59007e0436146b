import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { ServiceScope } from '../infer/context.ts';
import { locate } from '../load/index.ts';
import { groupInstances, PORT_SPAN, type ServiceModel, slug } from '../model/index.ts';
import type { SiteContext } from '../validate/index.ts';
import { birdSymbol } from '../vocabulary/names.ts';

/**
 * Checks that need the whole set of services mapped to HAProxy instances: names that would
 * collide once turned into file names, systemd units and BIRD symbols, and VRRP router ids.
 */
export function checkPlatform(
  services: readonly ServiceModel[],
  scopes: ReadonlyMap<string, ServiceScope>,
  ctx: SiteContext,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, string>();
  for (const s of services) {
    // `a/b`, `a-b`, `a.b` and `a_b` become the same instance file or BIRD protocol name.
    const key = birdSymbol(slug(s.id));
    const other = seen.get(key);
    if (other !== undefined && other !== s.id) {
      out.push(
        diag('E_NAME_CONFLICT', {
          message: `service ${s.id} and service ${other} map to the same instance name (${key})`,
          at: { file: scopes.get(s.id)!.file.path, line: 1, column: 1 },
          hint: 'rename one of the files: names that differ only in `/`, `-`, `.` or `_` collide',
          related: [
            { file: scopes.get(other)!.file.path, line: 1, column: 1, message: `${other} is defined here` },
          ],
        }),
      );
    } else seen.set(key, s.id);
  }
  // Instances never outnumber services: most sites skip the grouping here.
  if (services.length > PORT_SPAN) {
    const n = groupInstances(services, ctx.site).length;
    if (n > PORT_SPAN) {
      out.push(
        diag('E_SITE', {
          message: `${n} HAProxy instances need ${n} stats ports, but a site has ${PORT_SPAN} (management.stats_port_base and up)`,
          at: locate(ctx.siteFile, ['instances'], 'value'),
          hint: 'group VIPs into fewer processes (instances: per-group), or split the site',
        }),
      );
    }
  }
  const vrrp = ctx.site.ha.mode === 'vrrp' ? ctx.site.ha.vrrp : undefined;
  if (vrrp?.unicast && ctx.site.nodes.length < 2) {
    // keepalived rejects `unicast_peer {}` with no peer (exit 5): a check that passed would fail the build.
    out.push(
      diag('E_SITE', {
        message: 'unicast VRRP needs at least two nodes: with one there is no peer to advertise to',
        at: locate(ctx.siteFile, ['nodes'], 'key'),
        hint: 'add the second node, or set ha.vrrp.unicast: false (multicast advertisements)',
      }),
    );
  }
  if (vrrp) {
    const n = groupInstances(services, ctx.site).length;
    const last = vrrp.routerIdBase + n - 1;
    if (last > 255) {
      out.push(
        diag('E_SITE', {
          message: `${n} instances need VRRP router ids ${vrrp.routerIdBase}..${last}, but ids stop at 255`,
          at: locate(ctx.siteFile, ['ha', 'vrrp', 'router_id_base'], 'value'),
          hint: `lower router_id_base to at most ${Math.max(1, 256 - n)}, or group VIPs (instances: per-group)`,
        }),
      );
    }
  }
  return out;
}
