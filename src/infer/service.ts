import { diag } from '../diagnostics/index.ts';
import { mergeValues, type Tree } from '../merge/index.ts';
import type { ListenerModel, RedirectModel, RouteModel, ServiceModel, TeamModel } from '../model/index.ts';
import { certCovers } from '../validate/certs.ts';
import type { SiteContext } from '../validate/index.ts';
import { canonicalAddress, canonicalPrefix } from '../vocabulary/addresses.ts';
import { PROTOCOLS, type Protocol } from '../vocabulary/protocols.ts';
import type { ServiceIntent } from '../vocabulary/schemas.ts';
import { durationMs } from '../vocabulary/strings.ts';
import { buildBackend } from './backend.ts';
import type { ServiceScope } from './context.ts';
import { type DnsAnswer, normalizeName } from './dns.ts';

const YEAR = 31_536_000;

/** Completes one service: every field the renderers need, each with its source. */
export function inferService(
  scope: ServiceScope,
  ctx: SiteContext,
  dns: ReadonlyMap<string, DnsAnswer>,
  team: TeamModel | undefined,
): ServiceModel | undefined {
  const v = scope.merged.value as ServiceIntent;
  const protocolName = (v.protocol ?? 'http') as Protocol;
  const proto = PROTOCOLS[protocolName];
  scope.infer('protocol', 'default-protocol', 'http unless the intent says otherwise');
  scope.infer('mode', 'mode-from-protocol', `${protocolName} runs in HAProxy ${proto.mode} mode`);

  const fqdns = v.fqdn === undefined ? [] : (Array.isArray(v.fqdn) ? v.fqdn : [v.fqdn]).map(normalizeName);
  const ssl = v.ssl ?? false;
  const slug = scope.id.replace(/\//g, '-');

  // VIPs: written, or the first FQDN's A / AAAA record.
  // Addresses in one spelling from here on (see canonicalAddress): every comparison is on text.
  let vip = v.vip === undefined ? undefined : canonicalAddress(v.vip);
  let vip6 = v.vip6 === undefined ? undefined : canonicalAddress(v.vip6);
  const first = fqdns[0];
  const answer = first !== undefined ? dns.get(first) : undefined;
  let ambiguous = false;
  if (first !== undefined && answer?.kind === 'found') {
    if (vip === undefined && answer.a.length === 1) {
      vip = answer.a[0];
      scope.infer('vip', 'vip-from-dns', `A record of ${first} (${answer.source})`);
    }
    if (vip6 === undefined && answer.aaaa.length === 1) {
      vip6 = answer.aaaa[0];
      scope.infer('vip6', 'vip6-from-dns', `AAAA record of ${first} (${answer.source})`);
    }
    if (v.vip === undefined && answer.a.length > 1) {
      ambiguous = true;
      scope.diagnostics.push(
        diag('E_NO_VIP', {
          message: `${first} has ${answer.a.length} A records (${answer.a.join(', ')}); which one is the VIP?`,
          ...scope.where(['fqdn']),
          path: 'vip',
          hint: 'write `vip:` explicitly',
        }),
      );
    }
  }
  if (vip === undefined && vip6 === undefined && !ambiguous) {
    const why =
      first === undefined
        ? 'it has neither `vip`, `vip6` nor `fqdn`'
        : answer === undefined
          ? `${first} is not in dns.yaml and the resolver is off (site.yaml dns.resolver)`
          : answer.kind === 'found'
            ? `${first} resolves to no single address`
            : answer.kind === 'none'
              ? `${first} has no A or AAAA record`
              : `looking up ${first} failed: ${answer.error}`;
    scope.diagnostics.push(
      diag(first !== undefined && answer?.kind !== 'found' ? 'E_DNS_UNRESOLVED' : 'E_NO_VIP', {
        message: `service ${scope.id} has no VIP: ${why}`,
        ...scope.where(['fqdn']),
        path: 'vip',
        hint: 'set `vip:` (and `vip6:`) or add the name to dns.yaml',
      }),
    );
  }

  // Listening ports.
  let ports = v.ports;
  if (ports === undefined) {
    ports = ssl ? (proto.plainBesideTls ? [proto.tlsPort, proto.port] : [proto.tlsPort]) : [proto.port];
    ports = ports.filter((p) => p > 0);
    scope.infer(
      'ports',
      'ports-from-protocol',
      `${protocolName}${ssl ? ' with ssl' : ''} listens on ${ports.join(', ') || 'nothing'}`,
    );
    if (ports.length === 0) {
      scope.diagnostics.push(
        diag('E_PROTOCOL', {
          message: `protocol ${protocolName} has no well-known port: set \`ports\``,
          ...scope.where(['protocol']),
          path: 'ports',
        }),
      );
    }
  }
  const httpTls = ssl && proto.mode === 'http';
  const sslRedirect = httpTls ? (v.ssl_redirect ?? true) : false;
  if (httpTls)
    scope.infer('ssl_redirect', 'ssl-redirect-default', 'a TLS web service redirects plain HTTP to https');
  const listeners: ListenerModel[] = [...new Set(ports)]
    .sort((a, b) => a - b)
    .map((port) => {
      const tls = ssl && !(proto.plainBesideTls && port === proto.port);
      const role = !tls && httpTls && sslRedirect ? 'redirect-https' : 'serve';
      return { port, tls, role };
    });
  scope.infer(
    'listeners',
    'listeners-from-ports',
    'TLS on every port but the plain HTTP port; port 80 redirects when ssl_redirect',
  );

  const hstsIntent = v.hsts ?? (httpTls ? ctx.site.tls.hstsSeconds : undefined);
  const hstsSeconds =
    !httpTls || hstsIntent === undefined || hstsIntent === false
      ? undefined
      : hstsIntent === true
        ? YEAR
        : hstsIntent;
  if (v.hsts === undefined && hstsSeconds !== undefined)
    scope.infer('hsts', 'hsts-from-site', 'site.yaml tls.hsts');

  const certs = ssl
    ? ctx.site.certs
        .filter((c) => fqdns.some((f) => c.names.some((n) => certCovers(n, f))))
        .map((c) => c.file)
    : [];
  if (ssl) scope.infer('certs', 'certs-from-san', 'bundles in tls.certs whose SAN covers an fqdn');

  // A service whose redirects take every request (an old name moved elsewhere) needs no servers.
  const redirectsAll = (v.redirects ?? []).some((r) => r.path_prefix === undefined && r.host === undefined);
  const backend = buildBackend(
    scope,
    ctx,
    `be_${slug}`,
    (v.backend ?? {}) as Tree,
    ['backend'],
    proto,
    listeners,
    !redirectsAll,
  );
  const routes: RouteModel[] = (v.routes ?? []).map((r, i) => {
    const { group: _g, servers: _s, ...inherited } = (v.backend ?? {}) as Tree;
    // Merged like a deeper layer, so a locked `backend.check.interval` stays in force in a route
    // that writes `check: { path }`.
    const spec = mergeValues(inherited, r.backend) as Tree;
    const b = buildBackend(
      scope,
      ctx,
      `be_${slug}_route${i + 1}`,
      spec,
      ['routes', i, 'backend'],
      proto,
      listeners,
    );
    return {
      ...(r.path_prefix !== undefined && { pathPrefix: r.path_prefix }),
      ...(r.host !== undefined && { host: normalizeName(r.host) }),
      backend: b,
    };
  });
  const redirects: RedirectModel[] = (v.redirects ?? []).map((r) => ({
    ...(r.path_prefix !== undefined && { pathPrefix: r.path_prefix }),
    ...(r.host !== undefined && { host: normalizeName(r.host) }),
    to: r.to,
    code: r.code ?? 302,
    keepPath: r.keep_path ?? false,
  }));
  // HTTP checks ask for the service's own name: virtual hosts on the servers answer it, not `localhost`.
  for (const [b, at] of [
    [backend, 'backend'],
    ...routes.map((r, i) => [r.backend, `routes.${i}.backend`] as const),
  ] as const) {
    if (b.check.host === undefined && first !== undefined) {
      b.check.host = first;
      scope.infer(`${at}.check.host`, 'check-host-from-fqdn', `the first fqdn, ${first}`);
    }
  }
  const forwardFor = proto.mode === 'http';
  scope.infer(
    'client_address',
    'client-address',
    forwardFor
      ? 'HTTP mode: X-Forwarded-For and X-Forwarded-Proto'
      : backend.transparent
        ? 'TPROXY: servers see the client address'
        : backend.proxyProtocol
          ? `PROXY protocol ${backend.proxyProtocol} to the servers`
          : 'TCP mode without proxy_protocol/transparent: servers see the load balancer',
  );

  const t = v.timeouts ?? {};
  const idle = proto.idleTimeoutMs;
  const monitoring = v.monitoring ?? {};
  if (monitoring.url === undefined)
    scope.infer('monitoring.url', 'monitoring-url-from-check', 'the backend health check path');
  const model: ServiceModel = {
    id: scope.id,
    file: scope.file.path,
    ...(team && { team: team.name }),
    ...(v.description !== undefined && { description: v.description }),
    fqdns,
    ...(vip !== undefined && { vip }),
    ...(vip6 !== undefined && { vip6 }),
    protocol: protocolName,
    mode: proto.mode,
    listeners,
    ssl,
    sslRedirect,
    ...(hstsSeconds !== undefined && { hstsSeconds }),
    certs,
    forwardFor,
    backend,
    routes,
    redirects,
    allow: (v.allow ?? []).map(canonicalPrefix),
    ...(v.maxconn !== undefined && { maxconn: v.maxconn }),
    timeouts: {
      clientMs: ms(t.client, idle),
      httpRequestMs: ms(t.http_request, 10_000),
      httpKeepAliveMs: ms(t.http_keep_alive, 10_000),
    },
    monitoring: {
      icinga: monitoring.icinga ?? true,
      prometheus: monitoring.prometheus ?? true,
      url: monitoring.url ?? backend.check.path,
      ...(monitoring.notes !== undefined && { notes: monitoring.notes }),
      contacts: monitoring.contacts ?? [],
    },
    sources: scope.sources,
  };
  return model;
}

function ms(v: number | string | undefined, fallback: number): number {
  return v === undefined ? fallback : durationMs(v);
}
