import type { ServiceModel, Source } from '../model/index.ts';
import { duration } from '../render/emit.ts';

export interface ExplainRow {
  field: string;
  value: string;
  source: Source | undefined;
}

/** The effective intent of a service in the intent vocabulary, each leaf with where it came from. */
export function explainRows(s: ServiceModel): ExplainRow[] {
  const b = s.backend;
  const tree: Record<string, unknown> = {
    description: s.description,
    fqdn: s.fqdns,
    vip: s.vip,
    vip6: s.vip6,
    protocol: s.protocol,
    mode: s.mode,
    ports: s.listeners.map((l) => l.port),
    listeners: s.listeners.map(
      (l) => `${l.port}${l.tls ? '/tls' : ''}${l.role === 'serve' ? '' : ` ${l.role}`}`,
    ),
    ssl: s.ssl,
    ssl_redirect: s.ssl ? s.sslRedirect : undefined,
    hsts: s.hstsSeconds,
    certs: s.certs,
    client_address: clientAddress(s),
    allow: s.allow,
    maxconn: s.maxconn,
    timeouts: {
      client: duration(s.timeouts.clientMs),
      http_request: duration(s.timeouts.httpRequestMs),
      http_keep_alive: duration(s.timeouts.httpKeepAliveMs),
    },
    backend: backendTree(b),
    routes: s.routes.map((r) => ({
      path_prefix: r.pathPrefix,
      host: r.host,
      backend: backendTree(r.backend),
    })),
    redirects: s.redirects.map((r) => ({ path_prefix: r.pathPrefix, host: r.host, to: r.to, code: r.code })),
    monitoring: s.monitoring,
  };
  const rows: ExplainRow[] = [];
  flatten(tree, [], rows, s.sources);
  return rows;
}

function backendTree(b: ServiceModel['backend']): Record<string, unknown> {
  return {
    servers: b.servers.map(
      (v) =>
        `${v.name} ${v.address.includes(':') ? `[${v.address}]` : v.address}:${v.port}${v.weight !== 100 ? ` weight ${v.weight}` : ''}${v.backup ? ' backup' : ''}`,
    ),
    port: b.servers[0]?.port,
    balance: b.balance,
    check: {
      type: b.check.type,
      path: b.check.type === 'http' ? b.check.path : undefined,
      expect: b.check.expect,
      interval: duration(b.check.intervalMs),
      rise: b.check.rise,
      fall: b.check.fall,
    },
    sticky: b.sticky,
    cookie: b.sticky === 'cookie' ? b.cookie : undefined,
    proxy_protocol: b.proxyProtocol,
    transparent: b.transparent || undefined,
    ssl: b.ssl || undefined,
  };
}

function clientAddress(s: ServiceModel): string {
  if (s.backend.transparent) return 'tproxy';
  if (s.forwardFor)
    return s.backend.proxyProtocol ? `x-forwarded-for + proxy-${s.backend.proxyProtocol}` : 'x-forwarded-for';
  return s.backend.proxyProtocol
    ? `proxy-${s.backend.proxyProtocol}`
    : 'none (servers see the load balancer)';
}

function flatten(v: unknown, path: string[], rows: ExplainRow[], sources: Record<string, Source>): void {
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return;
  const field = path.join('.');
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) {
    rows.push({ field, value: v.join(', '), source: sourceOf(field, sources) });
  } else if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) flatten(x, [...path, String(i)], rows, sources);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) flatten(x, [...path, k], rows, sources);
  } else {
    rows.push({ field, value: String(v), source: sourceOf(field, sources) });
  }
}

/** The source of a field, or of its nearest ancestor that has one. */
function sourceOf(field: string, sources: Record<string, Source>): Source | undefined {
  const parts = field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const s = sources[parts.slice(0, n).join('.')];
    if (s) return s;
  }
  return undefined;
}

export function formatSource(s: Source | undefined): string {
  if (!s) return 'built-in default';
  return s.kind === 'file' ? `${s.file}:${s.line}:${s.column}` : `inferred (${s.rule}): ${s.detail}`;
}
