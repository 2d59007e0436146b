/**
 * TLS as the site's policy and the certificates promise it, on the first TLS port of a service:
 * - `tls:versions`: every version the policy allows is accepted, every older one refused;
 * - `tls:alpn`: HTTP services negotiate h2;
 * - `tls:cert`: the served certificate covers each FQDN (asked for by SNI) and stays valid for
 *   `certDays` more days.
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { ServiceModel } from '../../model/index.ts';
import { TLS_PROFILES } from '../../render/haproxy/tls-profiles.ts';
import { sharedGet } from '../probe/http.ts';
import { open, TLS_VERSIONS, type TlsVersion } from '../probe/stream.ts';
import type { CheckKind, Endpoint, PlanContext, ProbeEnv } from '../types.ts';
import { endpoint, firstVip, hostOf } from './common.ts';

const POLICY_MIN: Record<string, TlsVersion> = {
  'TLSv1.0': 'TLSv1',
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
};

/** The versions a policy accepts, in order: the oldest it allows up to TLS 1.3. */
export function policyVersions(policy: keyof typeof TLS_PROFILES): TlsVersion[] {
  const min = POLICY_MIN[TLS_PROFILES[policy].minVersion]!;
  return TLS_VERSIONS.slice(TLS_VERSIONS.indexOf(min));
}

interface Target {
  endpoint: Endpoint;
  host: string;
  /** An HTTP service: the port check's GET (shared within a run) already shook hands. */
  http: boolean;
}

function tlsTarget(s: ServiceModel, ctx: PlanContext): Target | undefined {
  const l = s.listeners.find((x) => x.tls);
  const v = firstVip(s);
  if (l === undefined || v === undefined) return undefined;
  return {
    endpoint: endpoint(s, v.address, l.port, ctx),
    host: hostOf(s, v.address),
    http: s.mode === 'http',
  };
}

export interface VersionsSpec extends Target {
  policy: string;
  accept: TlsVersion[];
  refuse: TlsVersion[];
}

export const tlsVersionsCheck: CheckKind<VersionsSpec> = {
  kind: 'tls:versions',
  plan(s, ctx) {
    const t = tlsTarget(s, ctx);
    if (t === undefined) return [];
    const policy = ctx.model.site.tls.policy;
    const accept = policyVersions(policy);
    const refuse = TLS_VERSIONS.filter((v) => !accept.includes(v));
    return [{ check: 'tls:versions', spec: { ...t, policy, accept, refuse } }];
  },
  async probe(spec, env) {
    // The GET the port check makes negotiates the newest version both sides have: when that is
    // TLS 1.3, it need not be asked again (one full handshake fewer per service).
    const shared = spec.http
      ? await sharedGet(env, spec.endpoint, { tls: true, host: spec.host, path: '/' })
      : undefined;
    const newest = shared?.ok === true ? shared.tls?.protocol : undefined;
    const known = newest === 'TLSv1.3' ? [{ version: 'TLSv1.3' as const, accepted: true, reason: '' }] : [];
    const versions = [...spec.refuse, ...spec.accept].filter((v) => !known.some((k) => k.version === v));
    const asked = await Promise.all(
      versions.map(async (version) => {
        const o = await open(spec.endpoint, env.timeoutMs, { servername: spec.host, version }, env.own);
        if (o.ok) o.socket.destroy();
        return { version, accepted: o.ok, reason: o.ok ? '' : o.reason };
      }),
    );
    const got = [...asked, ...known];
    const wrong = got.filter((g) => g.accepted !== spec.accept.includes(g.version));
    const accepted = got.filter((g) => g.accepted).map((g) => g.version);
    if (wrong.length === 0) {
      return { ok: true, detail: `accepts ${accepted.join(', ')} only (policy ${spec.policy})` };
    }
    const say = wrong.map((g) =>
      g.accepted ? `${g.version} ACCEPTED` : `${g.version} refused (${g.reason})`,
    );
    return { ok: false, detail: `${say.join('; ')} (policy ${spec.policy}: ${spec.accept.join(', ')})` };
  },
};

export const tlsAlpnCheck: CheckKind<Target> = {
  kind: 'tls:alpn',
  plan(s, ctx) {
    const t = s.mode === 'http' ? tlsTarget(s, ctx) : undefined;
    return t === undefined ? [] : [{ check: 'tls:alpn', spec: t }];
  },
  async probe(spec, env) {
    const o = await open(
      spec.endpoint,
      env.timeoutMs,
      { servername: spec.host, alpn: ['h2', 'http/1.1'] },
      env.own,
    );
    if (!o.ok) return { ok: false, detail: o.reason };
    o.socket.destroy();
    const alpn = o.tls?.alpn;
    return alpn === 'h2'
      ? { ok: true, detail: 'ALPN h2' }
      : { ok: false, detail: `ALPN ${alpn === false || alpn === undefined ? 'none' : alpn}, h2 expected` };
  },
};

export interface CertSpec {
  endpoint: Endpoint;
  fqdns: string[];
  days: number;
  http: boolean;
}

export const tlsCertCheck: CheckKind<CertSpec> = {
  kind: 'tls:cert',
  plan(s, ctx) {
    const t = tlsTarget(s, ctx);
    if (t === undefined) return [];
    const fqdns = s.fqdns.length > 0 ? s.fqdns : [t.host];
    return [{ check: 'tls:cert', spec: { endpoint: t.endpoint, fqdns, days: ctx.certDays, http: t.http } }];
  },
  async probe(spec, env) {
    const problems: string[] = [];
    let until = '';
    for (const name of spec.fqdns) {
      const cert = await servedCert(spec, name, env);
      if (typeof cert === 'string') {
        problems.push(`${name}: ${cert}`);
        continue;
      }
      if (checkServerIdentity(name, cert) !== undefined) problems.push(`${name} NOT covered`);
      const notAfter = new Date(cert.valid_to);
      until = notAfter.toISOString().slice(0, 10);
      const left = Math.floor((notAfter.getTime() - env.now.getTime()) / 86_400_000);
      if (left < spec.days) problems.push(`${name}: expires ${until} (${left} days, under ${spec.days})`);
    }
    return problems.length > 0
      ? { ok: false, detail: problems.join('; ') }
      : { ok: true, detail: `covers ${spec.fqdns.join(', ')}, valid until ${until}` };
  },
};

/** The certificate served for `name` (SNI): from the shared GET when it asked for that name, else a handshake. */
async function servedCert(spec: CertSpec, name: string, env: ProbeEnv): Promise<PeerCertificate | string> {
  if (spec.http) {
    const a = await sharedGet(env, spec.endpoint, { tls: true, host: name, path: '/' });
    if (a.ok && a.tls) return a.tls.cert;
  }
  const o = await open(spec.endpoint, env.timeoutMs, { servername: name }, env.own);
  if (!o.ok) return o.reason;
  o.socket.destroy();
  return o.tls!.cert;
}
