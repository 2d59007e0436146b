import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { ServiceScope } from '../infer/context.ts';
import { locate } from '../load/index.ts';
import { groupInstances, type ServiceModel, slug, statsPortCapacity } from '../model/index.ts';
import { EPHEMERAL_PORTS, NODE_PORTS } from '../model/node-ports.ts';
import type { SiteContext } from '../validate/index.ts';
import { birdSymbol } from '../vocabulary/names.ts';
import { PORT_SPAN } from '../vocabulary/schemas.ts';

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
  const base = ctx.site.management.statsPortBase;
  const capacity = statsPortCapacity(base);
  if (services.length > capacity) {
    const n = groupInstances(services, ctx.site).length;
    if (n > capacity) {
      out.push(
        diag('E_SITE', {
          message: `${n} HAProxy instances need ${n} stats ports, but a site has ${capacity} (management.stats_port_base and up, without the node's own ports ${NODE_PORTS.join(', ')})`,
          at: locate(ctx.siteFile, ['instances'], 'value'),
          hint: 'group VIPs into fewer processes (instances: per-group), or split the site',
        }),
      );
    }
  }
  const last = base + PORT_SPAN - 1;
  if (services.length > 0 && base <= EPHEMERAL_PORTS.last && last >= EPHEMERAL_PORTS.first) {
    out.push(
      diag('W_STATS_PORTS_EPHEMERAL', {
        message: `the stats ports ${base}..${last} overlap the kernel's ephemeral ports ${EPHEMERAL_PORTS.first}..${EPHEMERAL_PORTS.last}: an outgoing connection can hold one just when an instance (re)binds it`,
        at: locate(ctx.siteFile, ['management', 'stats_port_base'], 'value'),
        hint: `choose a base from 1024 to ${EPHEMERAL_PORTS.first - PORT_SPAN} (default 20000), or narrow net.ipv4.ip_local_port_range on the nodes`,
      }),
    );
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
