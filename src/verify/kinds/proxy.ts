/**
 * `proxy`: a TCP service whose intent sends the PROXY header passes the client's own address to
 * its servers. Judged where the server names the client it saw (WHOAMI in probe/greetings.ts: the
 * lab's backends do); skipped for protocols whose servers do not.
 */
import { WHOAMI } from '../probe/greetings.ts';
import { exchange, open } from '../probe/stream.ts';
import type { CheckKind } from '../types.ts';
import { endpoint, firstVip, hostOf } from './common.ts';
import type { AnswerSpec } from './port.ts';

export interface ProxySpec extends AnswerSpec {
  version: 'v1' | 'v2';
}

export const proxyCheck: CheckKind<ProxySpec> = {
  kind: 'proxy',
  plan(s, ctx) {
    const l = s.listeners[0];
    const v = firstVip(s);
    const version = s.backend.proxyProtocol;
    if (s.mode !== 'tcp' || version === undefined || l === undefined || v === undefined) return [];
    if (s.backend.servers.length === 0) return [];
    const spec = {
      endpoint: endpoint(s, v.address, l.port, ctx),
      protocol: s.protocol,
      tls: l.tls,
      host: hostOf(s, v.address),
      version,
    };
    return [{ check: 'proxy', spec }];
  },
  async probe(spec, env) {
    const who = spec.protocol === 'http' ? undefined : WHOAMI[spec.protocol];
    if (who === undefined) {
      return { ok: true, detail: `skipped: ${spec.protocol} servers do not say which client they saw` };
    }
    const o = await open(
      spec.endpoint,
      env.timeoutMs,
      spec.tls ? { servername: spec.host } : undefined,
      env.own,
    );
    if (!o.ok) return { ok: false, detail: o.reason };
    const local = o.socket.localAddress ?? '';
    const r = await exchange(o.socket, who.send, (d) => who.client(d) !== undefined, env.timeoutMs);
    const seen = who.client(r.data);
    if (seen === undefined || seen === '') {
      return { ok: true, detail: `PROXY ${spec.version}: server not identified` };
    }
    return seen === local
      ? { ok: true, detail: `PROXY ${spec.version}: the server saw ${seen}` }
      : {
          ok: false,
          detail: `the server saw ${seen}, not ${local}: no PROXY ${spec.version} header passed on`,
        };
  },
};
