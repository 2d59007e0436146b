import { diag } from '../diagnostics/index.ts';
import type { PathSegment } from '../load/index.ts';
import type { Tree } from '../merge/index.ts';
import type { BackendModel, ListenerModel, ServerModel } from '../model/index.ts';
import type { SiteContext } from '../validate/index.ts';
import { canonicalAddress } from '../vocabulary/addresses.ts';
import type { ProtocolDescriptor } from '../vocabulary/protocols.ts';
import type { BackendIntent } from '../vocabulary/schemas.ts';
import { closest, durationMs } from '../vocabulary/strings.ts';
import type { ServiceScope } from './context.ts';

/** Completes a backend (the service's own, or a route's): servers from the inventory, check, persistence. */
export function buildBackend(
  scope: ServiceScope,
  ctx: SiteContext,
  name: string,
  spec: Tree,
  at: PathSegment[],
  proto: ProtocolDescriptor,
  listeners: readonly ListenerModel[],
  serversRequired = true,
): BackendModel {
  const b = spec as BackendIntent;
  const dotted = at.join('.');
  const port = b.port ?? (proto.backendPort || listeners[0]?.port || 0);
  if (b.port === undefined) {
    scope.infer(
      `${dotted}.port`,
      'backend-port-from-protocol',
      proto.backendPort ? `the ${proto.check} port ${port}` : 'the first listening port',
    );
  }

  const servers: ServerModel[] = [];
  if (b.group !== undefined) {
    const group = ctx.groups.get(b.group);
    if (!group && !ctx.inventoryOk) {
      // inventory.yaml has errors of its own, already reported: the group may well be there.
    } else if (!group) {
      const known = [...ctx.groups.keys()].sort();
      scope.diagnostics.push(
        diag('E_UNKNOWN_GROUP', {
          message: `backend group \`${b.group}\` is not in the inventory`,
          ...scope.where([...at, 'group']),
          path: `${dotted}.group`,
          hint: closestHint(b.group, known),
        }),
      );
    } else if (group.hosts.length === 0) {
      scope.diagnostics.push(
        diag('E_EMPTY_GROUP', {
          message: `inventory group \`${b.group}\` has no hosts`,
          ...scope.where([...at, 'group']),
          path: `${dotted}.group`,
          hint: 'add hosts to the group, or point the service at another group',
          related: [{ ...group.at, message: `group ${b.group} is defined here` }],
        }),
      );
    } else {
      for (const h of group.hosts) {
        const address = h.address ?? h.address6;
        if (address === undefined) {
          scope.diagnostics.push(
            diag('E_ADDRESS', {
              message: `host ${h.name} of group ${b.group} has no address`,
              at: group.at,
              hint: 'give the host an address (or ansible_host) in the inventory',
            }),
          );
          continue;
        }
        servers.push({ name: h.name, address, port, weight: 100, backup: false });
      }
      scope.infer(`${dotted}.servers`, 'servers-from-group', `the hosts of inventory group ${b.group}`);
    }
  }
  for (const s of b.servers ?? []) {
    servers.push({
      name: s.name,
      address: canonicalAddress(s.address),
      port: s.port ?? port,
      weight: s.weight ?? 100,
      backup: s.backup ?? false,
      ...(s.maxconn !== undefined && { maxconn: s.maxconn }),
    });
  }
  if (serversRequired || servers.length > 0 || b.group !== undefined) checkServers(scope, at, b, servers);

  const c = b.check ?? {};
  const checkType = c.type ?? proto.check;
  if (c.type === undefined)
    scope.infer(`${dotted}.check.type`, 'check-from-protocol', `${checkType} check for this protocol`);
  const intervalMs = durationMs(c.interval ?? '2s');
  const sticky = b.sticky ?? 'none';
  return {
    name,
    servers,
    balance: b.balance ?? proto.balance,
    check: {
      type: checkType,
      path: c.path ?? '/',
      ...(c.host !== undefined && { host: c.host }),
      ...(c.expect !== undefined && { expect: c.expect }),
      intervalMs,
      timeoutMs: c.timeout !== undefined ? durationMs(c.timeout) : Math.min(intervalMs, 2000),
      rise: c.rise ?? 2,
      fall: c.fall ?? 3,
      ...(c.port !== undefined && { port: c.port }),
    },
    sticky,
    cookie: b.cookie ?? 'SRVID',
    ...(b.proxy_protocol !== undefined && { proxyProtocol: b.proxy_protocol }),
    transparent: b.transparent ?? false,
    ssl: b.ssl ?? false,
    sslVerify: b.ssl_verify ?? 'none',
    ...(b.maxconn !== undefined && { maxconn: b.maxconn }),
    timeouts: {
      connectMs: durationMs(b.timeouts?.connect ?? '5s'),
      serverMs: b.timeouts?.server !== undefined ? durationMs(b.timeouts.server) : proto.idleTimeoutMs,
      queueMs: durationMs(b.timeouts?.queue ?? '30s'),
    },
  };
}

function checkServers(
  scope: ServiceScope,
  at: PathSegment[],
  b: BackendIntent,
  servers: ServerModel[],
): void {
  const dotted = at.join('.');
  if (servers.length === 0) {
    if (b.group === undefined) {
      scope.diagnostics.push(
        diag('E_NO_SERVERS', {
          message: `\`${dotted}\` has no servers`,
          ...scope.where(at),
          path: dotted,
          hint: 'name an inventory group (`group:`) or list `servers:`',
        }),
      );
    }
    return;
  }
  const names = new Map<string, number>();
  servers.forEach((s, i) => {
    if (names.has(s.name)) {
      scope.diagnostics.push(
        diag('E_DUPLICATE_SERVER', {
          message: `server name \`${s.name}\` appears twice in \`${dotted}\``,
          ...scope.where([...at, 'servers']),
          path: `${dotted}.servers`,
          hint: 'an explicit server may not reuse the name of a group host; rename it',
        }),
      );
    }
    names.set(s.name, i);
  });
  if (servers.every((s) => s.backup)) {
    scope.diagnostics.push(
      diag('E_BACKUP_ONLY', {
        message: `every server of \`${dotted}\` is a backup: with no active server, HAProxy sends everything to the first backup alone`,
        ...scope.where([...at, 'servers']),
        path: `${dotted}.servers`,
        hint: 'make at least one server active (backup: false)',
      }),
    );
  } else if (servers.length === 1) {
    scope.diagnostics.push(
      diag('W_SINGLE_SERVER', {
        message: `\`${dotted}\` has a single server: no redundancy`,
        ...scope.where([...at, b.servers ? 'servers' : 'group']),
        path: dotted,
      }),
    );
  }
}

function closestHint(word: string, known: string[]): string | undefined {
  const best = closest(word, known);
  return best !== undefined
    ? `did you mean \`${best}\`?`
    : known.length
      ? `groups: ${known.slice(0, 12).join(', ')}`
      : undefined;
}
