/**
 * `port:<n>` (and `port:<n>/v6`): every listening port of every VIP answers in the service's
 * protocol — an HTTP status below 500, or the protocol's greeting (see probe/greetings.ts), over
 * TLS where the load balancer terminates it.
 */
import type { Protocol } from '../../vocabulary/protocols.ts';
import { GREETINGS } from '../probe/greetings.ts';
import { sharedGet } from '../probe/http.ts';
import { exchange, open } from '../probe/stream.ts';
import type { CheckKind, Endpoint, Outcome, ProbeEnv } from '../types.ts';
import { endpoint, hostOf, vipsOf } from './common.ts';

export interface AnswerSpec {
  endpoint: Endpoint;
  protocol: Protocol;
  tls: boolean;
  /** HTTP Host header and TLS server name. */
  host: string;
}

/** Whether the endpoint answers in its protocol. Shared with the allow check (which wants the opposite). */
export async function answers(spec: AnswerSpec, env: ProbeEnv): Promise<Outcome> {
  if (spec.protocol === 'http') {
    const a = await sharedGet(env, spec.endpoint, { tls: spec.tls, host: spec.host, path: '/' });
    if (!a.ok) return { ok: false, detail: a.reason };
    const where = typeof a.headers.location === 'string' ? ` → ${a.headers.location}` : '';
    return { ok: a.status < 500, detail: `HTTP ${a.status}${where}` };
  }
  const g = GREETINGS[spec.protocol];
  const o = await open(
    spec.endpoint,
    env.timeoutMs,
    spec.tls ? { servername: spec.host } : undefined,
    env.own,
  );
  if (!o.ok) return { ok: false, detail: o.reason };
  const wait = g.quietOkMs === undefined ? env.timeoutMs : Math.min(g.quietOkMs, env.timeoutMs);
  const r = await exchange(o.socket, g.send, (d) => g.judge(d) !== undefined, wait);
  const tls = spec.tls ? `${o.tls?.protocol}, ` : '';
  const v = g.judge(r.data);
  if (v !== undefined) return { ok: v.ok, detail: tls + v.detail };
  if (r.end === 'timeout' && g.quietOkMs !== undefined) {
    return { ok: true, detail: `${tls}connected, still open after ${wait} ms` };
  }
  return {
    ok: false,
    detail: `${tls}${r.end === 'timeout' ? `no answer within ${wait} ms` : 'closed without an answer'}`,
  };
}

export const portCheck: CheckKind<AnswerSpec> = {
  kind: 'port',
  plan(s, ctx) {
    return vipsOf(s).flatMap((v) =>
      s.listeners.map((l) => ({
        check: `port:${l.port}${v.suffix}`,
        spec: {
          endpoint: endpoint(s, v.address, l.port, ctx),
          protocol: s.mode === 'http' ? 'http' : s.protocol,
          tls: l.tls,
          host: hostOf(s, v.address),
        },
      })),
    );
  },
  probe: answers,
};
