/**
 * What reaches the servers, judged from the answer (the lab's backends describe themselves with
 * `{host, port, client, headers}`; an answer that is not such a description can only show that
 * something answered, and says so):
 * - `route:<host><path>`: each L7 route reaches a server of the route's own backend;
 * - `sticky`: a cookie-sticky backend sets its cookie;
 * - `forwarded`: HTTP services pass the client address in X-Forwarded-For.
 */
import type { ServerModel } from '../../model/index.ts';
import { echoOf, sharedGet } from '../probe/http.ts';
import type { CheckKind, Endpoint } from '../types.ts';
import { endpoint, firstVip, hostOf, servingListener } from './common.ts';

interface HttpTarget {
  endpoint: Endpoint;
  tls: boolean;
  host: string;
  path: string;
}

export interface RouteSpec extends HttpTarget {
  /** The servers of the route's backend, as `name address:port`. */
  servers: { name: string; address: string; port: number }[];
}

const serverRefs = (list: readonly ServerModel[]) =>
  list.map((x) => ({ name: x.name, address: x.address, port: x.port }));

export const routeCheck: CheckKind<RouteSpec> = {
  kind: 'route',
  plan(s, ctx) {
    const l = servingListener(s);
    const v = firstVip(s);
    if (l === undefined || v === undefined) return [];
    return s.routes.map((r) => ({
      check: `route:${r.host ?? ''}${r.pathPrefix ?? ''}`,
      spec: {
        endpoint: endpoint(s, v.address, l.port, ctx),
        tls: l.tls,
        host: r.host ?? hostOf(s, v.address),
        path: r.pathPrefix ?? '/',
        servers: serverRefs(r.backend.servers),
      },
    }));
  },
  async probe(spec, env) {
    const a = await sharedGet(env, spec.endpoint, spec);
    if (!a.ok) return { ok: false, detail: a.reason };
    if (a.status >= 500) return { ok: false, detail: `${spec.path} → HTTP ${a.status}` };
    const e = echoOf(a.body);
    if (e === undefined)
      return { ok: true, detail: `${spec.path} → HTTP ${a.status} (server not identified)` };
    const hit = spec.servers.find((x) => (x.name === e.host || x.address === e.host) && x.port === e.port);
    const want = spec.servers.map((x) => `${x.name}:${x.port}`).join(', ');
    return hit
      ? { ok: true, detail: `${spec.path} → ${e.host}:${e.port}` }
      : { ok: false, detail: `${spec.path} → ${e.host}:${e.port}, expected one of ${want}` };
  },
};

export interface StickySpec extends HttpTarget {
  cookie: string;
}

export const stickyCheck: CheckKind<StickySpec> = {
  kind: 'sticky',
  plan(s, ctx) {
    const l = servingListener(s);
    const v = firstVip(s);
    if (
      l === undefined ||
      v === undefined ||
      s.backend.sticky !== 'cookie' ||
      s.backend.servers.length === 0
    ) {
      return [];
    }
    const spec = {
      endpoint: endpoint(s, v.address, l.port, ctx),
      tls: l.tls,
      host: hostOf(s, v.address),
      path: '/',
      cookie: s.backend.cookie,
    };
    return [{ check: 'sticky', spec }];
  },
  async probe(spec, env) {
    const a = await sharedGet(env, spec.endpoint, spec);
    if (!a.ok) return { ok: false, detail: a.reason };
    const cookies = a.headers['set-cookie'] ?? [];
    const set = cookies.find((c) => c.startsWith(`${spec.cookie}=`));
    return set
      ? { ok: true, detail: `sets ${set.split(';')[0]}` }
      : { ok: false, detail: `HTTP ${a.status} without Set-Cookie ${spec.cookie}` };
  },
};

export const forwardedCheck: CheckKind<HttpTarget> = {
  kind: 'forwarded',
  plan(s, ctx) {
    const l = servingListener(s);
    const v = firstVip(s);
    if (l === undefined || v === undefined || !s.forwardFor || s.backend.servers.length === 0) return [];
    const spec = {
      endpoint: endpoint(s, v.address, l.port, ctx),
      tls: l.tls,
      host: hostOf(s, v.address),
      path: '/',
    };
    return [{ check: 'forwarded', spec }];
  },
  async probe(spec, env) {
    const a = await sharedGet(env, spec.endpoint, spec);
    if (!a.ok) return { ok: false, detail: a.reason };
    if (a.status >= 500) return { ok: false, detail: `HTTP ${a.status}` };
    const e = echoOf(a.body);
    if (e === undefined) return { ok: true, detail: `HTTP ${a.status} (server not identified)` };
    const xff = e.headers['x-forwarded-for'];
    const last = xff?.split(',').pop()?.trim();
    return last === a.local
      ? { ok: true, detail: `X-Forwarded-For ${xff}` }
      : { ok: false, detail: `X-Forwarded-For ${xff ?? 'missing'}, expected ${a.local}` };
  },
};
