import type { ServiceModel } from '../../model/index.ts';
import { type ConfigWriter, duration, haproxyQuote, hostPort } from '../emit.ts';
import type { NodeLayout } from '../types.ts';

export interface FrontendOptions {
  layout: NodeLayout;
  /** VRRP: the VIP may be on the other node, so binds must not need the address locally. */
  freebind: boolean;
}

/** One service's `frontend`: binds on every VIP and port, access list, redirects, routes. */
export function renderFrontend(w: ConfigWriter, s: ServiceModel, opts: FrontendOptions): void {
  const name = `fe_${s.id.replace(/\//g, '-')}`;
  w.section(`frontend ${name}`);
  if (s.description !== undefined && s.description.trim() !== '')
    w.line(`description ${haproxyQuote(s.description)}`);
  w.line(`mode ${s.mode}`);
  const addresses = [s.vip, s.vip6].filter((a): a is string => a !== undefined);
  for (const l of s.listeners) {
    for (const a of addresses) {
      const tls = l.tls
        ? ['ssl', ...s.certs.map((c) => `crt ${relativeCert(c)}`), s.mode === 'http' && 'alpn h2,http/1.1']
        : [];
      w.tokens(1, 'bind', hostPort(a, l.port), ...tls, opts.freebind && 'transparent');
    }
  }
  if (s.maxconn !== undefined) w.line(`maxconn ${s.maxconn}`);
  w.line(`timeout client ${duration(s.timeouts.clientMs)}`);
  if (s.mode === 'http') {
    w.line(`timeout http-request ${duration(s.timeouts.httpRequestMs)}`);
    w.line(`timeout http-keep-alive ${duration(s.timeouts.httpKeepAliveMs)}`);
    w.line('option httplog');
    w.line('option idle-close-on-response');
  } else {
    w.line('option tcplog');
  }
  if (s.allow.length > 0) w.line(`tcp-request connection reject if !{ src ${s.allow.join(' ')} }`);
  if (s.mode === 'http') renderHttpRules(w, s);
  const hasServers = s.backend.servers.length > 0;
  if (hasServers) w.line(`default_backend ${s.backend.name}`);
}

function renderHttpRules(w: ConfigWriter, s: ServiceModel): void {
  if (s.sslRedirect) {
    // 301 keeps old clients happy for GET/HEAD; 308 keeps the method and body of everything else.
    w.line('http-request redirect scheme https code 301 if !{ ssl_fc } METH_GET || !{ ssl_fc } METH_HEAD');
    w.line('http-request redirect scheme https code 308 if !{ ssl_fc }');
  }
  if (s.hstsSeconds !== undefined) {
    w.line(`http-response set-header Strict-Transport-Security "max-age=${s.hstsSeconds}" if { ssl_fc }`);
  }
  for (const r of s.redirects) {
    const kind = r.keepPath ? 'prefix' : 'location';
    const cond = conditions(r.host, r.pathPrefix);
    w.tokens(1, 'http-request redirect', kind, r.to, `code ${r.code}`, cond && `if ${cond}`);
  }
  for (const r of s.routes) {
    const cond = conditions(r.host, r.pathPrefix);
    if (cond) w.line(`use_backend ${r.backend.name} if ${cond}`);
  }
}

function conditions(host: string | undefined, pathPrefix: string | undefined): string | undefined {
  const parts: string[] = [];
  if (host !== undefined) parts.push(`{ req.hdr(host),field(1,:) -m str -i ${host} }`);
  if (pathPrefix !== undefined) parts.push(`{ path_beg ${pathPrefix} }`);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/**
 * Certificates are referenced relative to the configuration file (`default-path config`), so the
 * same bytes validate in the build folder and run on the node (`<etc>/haproxy/` beside `<etc>/certs/`).
 */
function relativeCert(siteRelative: string): string {
  return `../certs/${siteRelative.split('/').pop()}`;
}
