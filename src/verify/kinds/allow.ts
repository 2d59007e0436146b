/**
 * `allow` (and `allow/v6`): a service with an allow list refuses a client outside it. The probe
 * speaks the service's protocol from a local address outside the list and passes when no answer
 * comes (refused, dropped, or closed by HAProxy's access list). Without such an address here the
 * check is reported as skipped.
 */
import type { CheckKind } from '../types.ts';
import { hostOf, outsideSource, vipsOf } from './common.ts';
import { type AnswerSpec, answers } from './port.ts';

export type AllowSpec = { outside: AnswerSpec; allow: string[] } | { skipped: string };

export const allowCheck: CheckKind<AllowSpec> = {
  kind: 'allow',
  plan(s, ctx) {
    const first = s.listeners[0];
    if (s.allow.length === 0 || first === undefined) return [];
    return vipsOf(s).map((v) => {
      const source = outsideSource(s, v.address, ctx);
      const spec: AllowSpec =
        source === undefined
          ? { skipped: `no local address outside ${s.allow.join(', ')} of this family to probe from` }
          : {
              outside: {
                endpoint: { address: v.address, port: first.port, source },
                protocol: s.mode === 'http' ? 'http' : s.protocol,
                tls: first.tls,
                host: hostOf(s, v.address),
              },
              allow: s.allow,
            };
      return { check: `allow${v.suffix}`, spec };
    });
  },
  async probe(spec, env) {
    if ('skipped' in spec) return { ok: true, detail: `skipped: ${spec.skipped}` };
    const from = `from ${spec.outside.endpoint.source} (outside ${spec.allow.join(', ')})`;
    const r = await answers(spec.outside, env);
    return r.ok
      ? { ok: false, detail: `port ${spec.outside.endpoint.port} ANSWERS ${from}: ${r.detail}` }
      : { ok: true, detail: `port ${spec.outside.endpoint.port} refuses ${from}: ${r.detail}` };
  },
};
