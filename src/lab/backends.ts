/**
 * What each backend host of the lab serves: every (address, port) the site's services send
 * traffic or health checks to, with the protocol the check implies and TLS where the server is
 * expected to speak it. Pure.
 */
import type { BackendModel, Model, ServerModel } from '../model/index.ts';
import type { CheckType, Protocol as ServiceProtocol } from '../vocabulary/protocols.ts';
import { canonical, compareAddresses } from './addresses.ts';
import { formatListenSpec } from './backend/listen-spec.ts';
import type { ListenSpec, Protocol } from './backend/types.ts';
import type { ProxyVersion, RealInstance } from './real/types.ts';
import { backendsOf, type LabTopology } from './topology.ts';

/** The lab backend protocol that passes each HAProxy check type (`none`/`tcp`: any answer). */
const BY_CHECK: Record<CheckType, Protocol | undefined> = {
  http: 'http',
  tcp: undefined,
  smtp: 'smtp',
  ldap: 'ldap',
  mysql: 'mysql',
  pgsql: 'pgsql',
  redis: 'redis',
  imap: 'imap',
  pop3: 'pop3',
  none: undefined,
};

/** The lab backend protocol a service's servers speak when the check does not say. */
const BY_SERVICE: Record<ServiceProtocol, Protocol> = {
  http: 'http',
  tcp: 'tcp',
  smtp: 'smtp',
  submission: 'smtp',
  imap: 'imap',
  pop3: 'pop3',
  ldap: 'ldap',
  mysql: 'mysql',
  pgsql: 'pgsql',
  redis: 'redis',
};

/**
 * A port a backend host serves, and the PROXY header HAProxy sends it (`mixed`: some backends send
 * one and others another, or none). The built-in server tells them apart by itself; a real daemon
 * must be told.
 */
export interface PlannedPort extends ListenSpec {
  proxy?: ProxyVersion | 'mixed';
}

/** One backend host: the ports its built-in server listens on, and the real daemons it runs. */
export interface BackendPlan {
  host: string;
  /** Served by the lab's built-in backend program (none: it does not run). */
  listen: PlannedPort[];
  /** Debian's daemons (`lab up --backends real`); absent in a lab of built-in servers only. */
  real?: RealInstance[];
}

export type BackendPlanResult = { ok: true; plans: BackendPlan[] } | { ok: false; errors: string[] };

/**
 * Every backend host with at least one port, sorted by name. A port asked for with two different
 * protocols (or with and without TLS) is an error: one process cannot answer both.
 */
export function planBackends(model: Model, topology: LabTopology): BackendPlanResult {
  const errors: string[] = [];
  const hostOf = new Map<string, string>();
  for (const h of topology.hosts) {
    if (h.role === 'backend') for (const a of h.addresses) hostOf.set(a.address, h.name);
  }
  const ports = new Map<string, Map<string, { spec: PlannedPort; by: string }>>();
  const want = (server: ServerModel, spec: PlannedPort, by: string): void => {
    const host = hostOf.get(spec.address);
    if (host === undefined) {
      errors.push(`${by}: server ${server.name} (${spec.address}) is not a backend host of the lab`);
      return;
    }
    const key = formatListenSpec({ ...spec, protocol: 'tcp', tls: false });
    const mine = ports.get(host) ?? new Map<string, { spec: PlannedPort; by: string }>();
    ports.set(host, mine);
    const had = mine.get(key);
    if (had === undefined) mine.set(key, { spec, by });
    else if (had.spec.protocol !== spec.protocol || had.spec.tls !== spec.tls) {
      errors.push(
        `${host} port ${spec.port}: ${had.by} needs ${describe(had.spec)} but ${by} needs ${describe(spec)}`,
      );
    } else if (had.spec.proxy !== spec.proxy) {
      had.spec = { ...had.spec, proxy: 'mixed' };
    }
  };

  const serviceOf = new Map<string, ServiceProtocol>();
  for (const s of model.services) {
    for (const b of [s.backend, ...s.routes.map((r) => r.backend)])
      if (!serviceOf.has(b.name)) serviceOf.set(b.name, s.protocol);
  }
  for (const b of backendsOf(model)) {
    const data = BY_SERVICE[serviceOf.get(b.name) ?? 'tcp'];
    const checked = BY_CHECK[b.check.type];
    for (const server of b.servers) {
      const address = canonical(server.address);
      const checkPort = b.check.port ?? server.port;
      const by = `backend ${b.name}`;
      if (checkPort === server.port) {
        want(server, spec(checked ?? data, address, server.port, b), by);
      } else {
        want(server, spec(data, address, server.port, b), by);
        if (b.check.type !== 'none')
          want(server, spec(checked ?? 'tcp', address, checkPort, b), `${by} (check)`);
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const plans = [...ports]
    .map(([host, m]) => ({
      host,
      listen: [...m.values()]
        .map((x) => x.spec)
        .sort((a, b) => compareAddresses(a.address, b.address) || a.port - b.port),
    }))
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { ok: true, plans };
}

function spec(protocol: Protocol, address: string, port: number, b: BackendModel): PlannedPort {
  // `check-send-proxy` goes with `send-proxy*` whenever the servers are checked (render/haproxy/backend.ts).
  return {
    protocol,
    address,
    port,
    tls: b.ssl,
    ...(b.proxyProtocol !== undefined && { proxy: b.proxyProtocol }),
  };
}

function describe(s: ListenSpec): string {
  return `${s.protocol}${s.tls ? ' over TLS' : ''}`;
}
