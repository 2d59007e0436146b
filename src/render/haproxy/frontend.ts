import type { RedirectModel, ServiceModel } from '../../model/index.ts';
import { type ConfigWriter, duration, hostPort } from '../emit.ts';
import { arg, logFormat, pattern, text, word } from '../quote/haproxy.ts';
import type { NodeLayout } from '../types.ts';

export interface FrontendOptions {
  layout: NodeLayout;
  /** VRRP: the VIP may be on the other node, so binds must not need the address locally. */
  freebind: boolean;
}

/** One service's `frontend`: binds on every VIP and port, access list, redirects, routes. */
export function renderFrontend(w: ConfigWriter, s: ServiceModel, opts: FrontendOptions): void {
  w.section(`frontend ${word(`fe_${s.id.replace(/\//g, '-')}`)}`);
  if (s.description !== undefined && s.description.trim() !== '')
    w.line(`description ${text(s.description)}`);
  w.line(`mode ${s.mode}`);
  const addresses = [s.vip, s.vip6].filter((a): a is string => a !== undefined);
  for (const l of s.listeners) {
    for (const a of addresses) {
      const tls = l.tls
        ? [
            'ssl',
            ...s.certs.map((c) => `crt ${arg(relativeCert(c))}`),
            s.mode === 'http' && 'alpn h2,http/1.1',
          ]
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
  if (hasServers) w.line(`default_backend ${word(s.backend.name)}`);
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
    const cond = conditions(r.host, r.pathPrefix);
    w.tokens(1, 'http-request redirect', redirectTarget(r), `code ${r.code}`, cond && `if ${cond}`);
  }
  for (const r of s.routes) {
    const cond = conditions(r.host, r.pathPrefix);
    if (cond) w.line(`use_backend ${word(r.backend.name)} if ${cond}`);
  }
}

/**
 * Where a redirect sends the client. The team's `to` is a literal (HAProxy reads these arguments
 * as log-format: `%[...]` would be evaluated). `keep_path` appends what follows the matched
 * `path_prefix`, query string included: `/old/page?x` with `/old` -> `/new` gives `/new/page?x`.
 */
function redirectTarget(r: RedirectModel): string {
  if (!r.keepPath) return `location ${logFormat(r.to)}`;
  const p = segmentPrefix(r.pathPrefix);
  // `prefix` appends the whole path to `to`; a trailing slash of `to` would double the path's.
  if (p === undefined) return `prefix ${logFormat(r.to.replace(/\/+$/, '') || '/')}`;
  // The condition guarantees the path starts with `p`, so dropping its length drops the prefix.
  if (r.to.endsWith('/')) {
    // `/new/`: the rest without its leading slash, `/` for an empty rest.
    return `location ${logFormat(r.to.replace(/\/+$/, ''), `%[pathq,bytes(${p.length}),regsub(^/?,/)]`)}`;
  }
  return `location ${logFormat(r.to, `%[pathq,bytes(${p.length})]`)}`;
}

/**
 * The prefix that path matching compares, without a trailing slash; undefined when every path
 * matches (`/` or none).
 */
function segmentPrefix(pathPrefix: string | undefined): string | undefined {
  if (pathPrefix === undefined) return undefined;
  const p = pathPrefix.replace(/\/+$/, '');
  return p === '' ? undefined : p;
}

/**
 * The ACL condition for a host and a path prefix. A prefix matches whole path segments: `/old`
 * matches `/old`, `/old/` and `/old/x`, never `/oldies`; `/old/` matches only below `/old/`.
 */
function conditions(host: string | undefined, pathPrefix: string | undefined): string | undefined {
  const hostAcl = host === undefined ? [] : [`{ req.hdr(host),field(1,:) -m str -i ${pattern(host)} }`];
  const p = segmentPrefix(pathPrefix);
  if (p === undefined) {
    const all = pathPrefix === undefined ? hostAcl : [...hostAcl, '{ path_beg / }'];
    return all.length > 0 ? all.join(' ') : undefined;
  }
  if (pathPrefix!.endsWith('/')) return [...hostAcl, `{ path_beg ${pattern(`${p}/`)} }`].join(' ');
  return [
    [...hostAcl, `{ path ${pattern(p)} }`].join(' '),
    [...hostAcl, `{ path_beg ${pattern(`${p}/`)} }`].join(' '),
  ].join(' || ');
}

/**
 * Certificates are referenced relative to the configuration file (`default-path config`), so the
 * same bytes validate in the build folder and run on the node (`<etc>/haproxy/` beside `<etc>/certs/`).
 */
function relativeCert(siteRelative: string): string {
  return `../certs/${siteRelative.split('/').pop()}`;
}
