/**
 * What HTTP answers promise before any server is asked:
 * - `redirect:https`: the plain port answers GET with 301 to the same URL on https;
 * - `redirect:<host><path>`: each explicit redirect answers with its code and target (the path
 *   kept after the target when the intent says so);
 * - `hsts`: the TLS port sends Strict-Transport-Security with the intended max-age, or none.
 */
import { sharedGet } from '../probe/http.ts';
import type { CheckKind, Endpoint, ProbeEnv } from '../types.ts';
import { endpoint, firstVip, hostOf, servingListener } from './common.ts';

export interface RedirectSpec {
  endpoint: Endpoint;
  tls: boolean;
  host: string;
  path: string;
  code: number;
  location: string;
}

const PROBE_PATH = '/intentlb-verify?probe=1';

export const httpsRedirectCheck: CheckKind<RedirectSpec> = {
  kind: 'redirect:https',
  plan(s, ctx) {
    const l = s.listeners.find((x) => x.role === 'redirect-https');
    const v = firstVip(s);
    if (l === undefined || v === undefined) return [];
    const host = hostOf(s, v.address);
    return [
      {
        check: 'redirect:https',
        spec: {
          endpoint: endpoint(s, v.address, l.port, ctx),
          tls: l.tls,
          host,
          path: PROBE_PATH,
          code: 301,
          location: `https://${host}${PROBE_PATH}`,
        },
      },
    ];
  },
  probe: probeRedirect,
};

export const redirectCheck: CheckKind<RedirectSpec> = {
  kind: 'redirect',
  plan(s, ctx) {
    const l = servingListener(s);
    const v = firstVip(s);
    if (l === undefined || v === undefined) return [];
    return s.redirects.map((r) => {
      const host = r.host ?? hostOf(s, v.address);
      const path = `${r.pathPrefix ?? '/'}intentlb-verify`.replace(/\/\/+/g, '/');
      return {
        check: `redirect:${r.host ?? ''}${r.pathPrefix ?? '/'}`,
        spec: {
          endpoint: endpoint(s, v.address, l.port, ctx),
          tls: l.tls,
          host,
          path,
          code: r.code,
          location: r.keepPath ? `${r.to.replace(/\/$/, '')}${path}` : r.to,
        },
      };
    });
  },
  probe: probeRedirect,
};

async function probeRedirect(spec: RedirectSpec, env: ProbeEnv) {
  const a = await sharedGet(env, spec.endpoint, { tls: spec.tls, host: spec.host, path: spec.path });
  if (!a.ok) return { ok: false, detail: a.reason };
  const loc = typeof a.headers.location === 'string' ? a.headers.location : '(no Location)';
  const ok = a.status === spec.code && loc === spec.location;
  return {
    ok,
    detail: ok
      ? `${spec.path} → ${a.status} ${loc}`
      : `${spec.path} → ${a.status} ${loc}, expected ${spec.code} ${spec.location}`,
  };
}

export interface HstsSpec {
  endpoint: Endpoint;
  host: string;
  /** Expected max-age; undefined: no header. */
  maxAge: number | undefined;
}

export const hstsCheck: CheckKind<HstsSpec> = {
  kind: 'hsts',
  plan(s, ctx) {
    const l = servingListener(s);
    const v = firstVip(s);
    if (l === undefined || !l.tls || v === undefined) return [];
    return [
      {
        check: 'hsts',
        spec: {
          endpoint: endpoint(s, v.address, l.port, ctx),
          host: hostOf(s, v.address),
          maxAge: s.hstsSeconds,
        },
      },
    ];
  },
  async probe(spec, env) {
    const a = await sharedGet(env, spec.endpoint, { tls: true, host: spec.host, path: '/' });
    if (!a.ok) return { ok: false, detail: a.reason };
    const h = a.headers['strict-transport-security'];
    const got = typeof h === 'string' ? h : undefined;
    const want = spec.maxAge === undefined ? undefined : `max-age=${spec.maxAge}`;
    const ok = got === want;
    const say = (x: string | undefined): string => (x === undefined ? 'no header' : x);
    return { ok, detail: ok ? say(got) : `${say(got)}, expected ${say(want)}` };
  },
};
