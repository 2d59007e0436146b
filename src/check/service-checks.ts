import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { ServiceScope } from '../infer/context.ts';
import type { DnsAnswer } from '../infer/dns.ts';
import type { ServiceModel, SiteModel, TeamModel } from '../model/index.ts';
import { certCovers } from '../validate/certs.ts';
import { pathPrefixMatches, prefixContains } from '../vocabulary/strings.ts';

const DAY_MS = 86_400_000;

/** Checks of one completed service against itself, DNS, certificates and its team's rights. */
export function checkService(
  s: ServiceModel,
  scope: ServiceScope,
  site: SiteModel,
  dns: ReadonlyMap<string, DnsAnswer>,
  team: TeamModel | undefined,
): Diagnostic[] {
  return [
    ...checkModeOptions(s, scope),
    ...checkRoutes(s, scope),
    ...checkDns(s, scope, dns),
    ...checkCerts(s, scope, site),
    ...(team ? checkTeam(s, scope, team) : []),
  ];
}

function checkModeOptions(s: ServiceModel, scope: ServiceScope): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (s.mode === 'http') return out;
  const httpOnly: [string, boolean][] = [
    ['routes', s.routes.length > 0],
    ['redirects', s.redirects.length > 0],
    ['backend.sticky', s.backend.sticky === 'cookie'],
  ];
  for (const [key, used] of httpOnly) {
    if (!used) continue;
    out.push(
      diag('E_PROTOCOL', {
        message: `\`${key}${key === 'backend.sticky' ? ': cookie' : ''}\` needs HTTP, but ${s.protocol} runs in TCP mode`,
        ...scope.where(key.split('.')),
        path: key,
        hint:
          key === 'backend.sticky'
            ? 'use `sticky: source` for TCP services'
            : 'only HTTP services can route or redirect by path or host',
      }),
    );
  }
  return out;
}

function checkRoutes(s: ServiceModel, scope: ServiceScope): Diagnostic[] {
  const out: Diagnostic[] = [];
  const routes = (scope.get(['routes']) as unknown[] | undefined) ?? [];
  routes.forEach((_, i) => {
    const r = s.routes[i];
    if (!r) return;
    if (r.pathPrefix === undefined && r.host === undefined) {
      out.push(
        diag('E_ROUTE', {
          message: `route ${i + 1} has neither \`path_prefix\` nor \`host\`: it would take every request`,
          ...scope.where(['routes', i]),
          path: `routes.${i}`,
          hint: 'the service backend already takes what no route matches; give the route a condition',
        }),
      );
      return;
    }
    for (let j = 0; j < i; j++) {
      const e = s.routes[j]!;
      const hostCovers = e.host === undefined || e.host === r.host;
      // Every path route i takes is taken by route j when j takes i's shortest one.
      const pathCovers =
        e.pathPrefix === undefined ||
        (r.pathPrefix !== undefined &&
          pathPrefixMatches(e.pathPrefix, r.pathPrefix.endsWith('/') ? `${r.pathPrefix}x` : r.pathPrefix));
      if (hostCovers && pathCovers && (e.host !== undefined || e.pathPrefix !== undefined)) {
        out.push(
          diag('W_ROUTE_SHADOWED', {
            message: `route ${i + 1} never matches: route ${j + 1} comes first and takes all its requests`,
            ...scope.where(['routes', i]),
            path: `routes.${i}`,
            hint: 'put the more specific route first',
          }),
        );
        break;
      }
    }
  });
  return out;
}

function checkDns(s: ServiceModel, scope: ServiceScope, dns: ReadonlyMap<string, DnsAnswer>): Diagnostic[] {
  const out: Diagnostic[] = [];
  s.fqdns.forEach((name, i) => {
    const a = dns.get(name);
    const fqdnPath = Array.isArray(scope.get(['fqdn'])) ? ['fqdn', i] : ['fqdn'];
    if (a === undefined) return;
    if (a.kind !== 'found') {
      if (s.vip !== undefined || s.vip6 !== undefined) {
        out.push(
          diag('W_DNS_UNCHECKED', {
            message:
              a.kind === 'none'
                ? `${name} has no DNS record (${a.source})`
                : `${name}: DNS lookup failed (${a.error})`,
            ...scope.where(fqdnPath),
            path: 'fqdn',
          }),
        );
      }
      return;
    }
    const wrong: string[] = [];
    if (s.vip !== undefined && a.a.length > 0 && !a.a.includes(s.vip))
      wrong.push(`A ${a.a.join(', ')} but vip is ${s.vip}`);
    if (s.vip6 !== undefined && a.aaaa.length > 0 && !a.aaaa.includes(s.vip6))
      wrong.push(`AAAA ${a.aaaa.join(', ')} but vip6 is ${s.vip6}`);
    if (wrong.length > 0) {
      const vipKey = wrong[0]!.startsWith('A ') ? 'vip' : 'vip6';
      out.push(
        diag('E_DNS_MISMATCH', {
          message: `${name} resolves to ${wrong.join('; ')} (${a.source})`,
          ...scope.where(scope.get([vipKey]) !== undefined ? [vipKey] : fqdnPath),
          path: vipKey,
          hint: 'fix the DNS record or the VIP: clients would reach another address than the one the load balancer serves',
        }),
      );
    }
  });
  return out;
}

function checkCerts(s: ServiceModel, scope: ServiceScope, site: SiteModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!s.ssl) return out;
  if (s.fqdns.length === 0) {
    out.push(
      diag('E_CERT_MISSING', {
        message: `TLS service ${s.id} has no \`fqdn\` to choose its certificate by`,
        ...scope.where(['ssl']),
        path: 'fqdn',
        hint: 'set `fqdn:` to the names in the certificate',
      }),
    );
    return out;
  }
  s.fqdns.forEach((name, i) => {
    if (site.certs.some((c) => c.names.some((n) => certCovers(n, name)))) return;
    out.push(
      diag('E_CERT_MISSING', {
        message: `no certificate bundle covers ${name}`,
        ...scope.where(Array.isArray(scope.get(['fqdn'])) ? ['fqdn', i] : ['fqdn']),
        path: 'fqdn',
        hint: `put ${name}.pem (certificate, chain and key; its SAN must name ${name}) in the site's tls.certs folder`,
      }),
    );
  });
  return out;
}

/** Certificate expiry, once per bundle in use; needs the clock, which the caller injects. */
export function checkCertExpiry(site: SiteModel, used: ReadonlySet<string>, now: Date): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const c of site.certs) {
    if (!used.has(c.file)) continue;
    const left = Date.parse(c.notAfter) - now.getTime();
    if (left >= 30 * DAY_MS) continue;
    out.push(
      diag('W_CERT_EXPIRY', {
        message:
          left < 0
            ? `${c.file} expired on ${c.notAfter.slice(0, 10)}`
            : `${c.file} expires on ${c.notAfter.slice(0, 10)} (in ${Math.floor(left / DAY_MS)} days)`,
        at: { file: c.file, line: 1, column: 1 },
        hint: 'renew the certificate and replace the bundle',
      }),
    );
  }
  return out;
}

function checkTeam(s: ServiceModel, scope: ServiceScope, team: TeamModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (team.vipPools.length > 0) {
    for (const [key, addr] of [
      ['vip', s.vip],
      ['vip6', s.vip6],
    ] as const) {
      if (addr === undefined) continue;
      const fam = team.vipPools.filter((p) => p.includes(':') === addr.includes(':'));
      if (fam.some((p) => prefixContains(p, addr))) continue;
      out.push(
        diag('E_VIP_OUTSIDE_POOL', {
          message: `${key} ${addr} is outside team ${team.name}'s pools (${fam.join(', ') || `none for IPv${addr.includes(':') ? 6 : 4}`})`,
          ...scope.where(scope.get([key]) !== undefined ? [key] : ['fqdn']),
          path: key,
          hint: 'pick an address from the team pools in site.yaml, or ask the platform team to extend them',
        }),
      );
    }
  }
  if (team.ports.length > 0) {
    for (const l of s.listeners) {
      if (team.ports.includes(l.port)) continue;
      out.push(
        diag('E_PORT_NOT_ALLOWED', {
          message: `team ${team.name} may not use port ${l.port} (allowed: ${team.ports.join(', ')})`,
          ...scope.where(scope.get(['ports']) !== undefined ? ['ports'] : ['protocol']),
          path: 'ports',
          hint: 'use an allowed port, or ask the platform team to allow this one in site.yaml teams',
        }),
      );
    }
  }
  return out;
}
