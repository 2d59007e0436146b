/**
 * Each protocol declares its own answers here; shared stages read the descriptor and never branch
 * on a protocol's name.
 */
export interface ProtocolDescriptor {
  /** HAProxy proxy mode. */
  mode: 'http' | 'tcp';
  /** Listening port without TLS. */
  port: number;
  /** Listening port when the load balancer terminates TLS. */
  tlsPort: number;
  /**
   * Whether `ssl: true` also keeps the plain port open (HTTP: port 80 redirects or passes
   * through; the others listen on the TLS port only).
   */
  plainBesideTls: boolean;
  /** Health check type used when `backend.check.type` is not given. */
  check: CheckType;
  /** Port the servers listen on when `backend.port` is not given (0: the first listening port). */
  backendPort: number;
  /** Balance algorithm when `backend.balance` is not given: long-lived sessions spread by count. */
  balance: 'roundrobin' | 'leastconn';
  /** Client and server inactivity timeout when none is given. */
  idleTimeoutMs: number;
}

export const CHECK_TYPES = [
  'http',
  'tcp',
  'smtp',
  'ldap',
  'mysql',
  'pgsql',
  'redis',
  'imap',
  'pop3',
  'none',
] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

export const PROTOCOLS = {
  http: {
    mode: 'http',
    port: 80,
    tlsPort: 443,
    plainBesideTls: true,
    check: 'http',
    backendPort: 80,
    balance: 'roundrobin',
    idleTimeoutMs: 30_000,
  },
  tcp: {
    mode: 'tcp',
    port: 0,
    tlsPort: 0,
    plainBesideTls: false,
    check: 'tcp',
    backendPort: 0,
    balance: 'roundrobin',
    idleTimeoutMs: 3_600_000,
  },
  smtp: {
    mode: 'tcp',
    port: 25,
    tlsPort: 465,
    plainBesideTls: false,
    check: 'smtp',
    backendPort: 25,
    balance: 'roundrobin',
    idleTimeoutMs: 300_000,
  },
  submission: {
    mode: 'tcp',
    port: 587,
    tlsPort: 465,
    plainBesideTls: false,
    check: 'smtp',
    backendPort: 587,
    balance: 'roundrobin',
    idleTimeoutMs: 300_000,
  },
  imap: {
    mode: 'tcp',
    port: 143,
    tlsPort: 993,
    plainBesideTls: false,
    check: 'imap',
    backendPort: 143,
    balance: 'leastconn',
    idleTimeoutMs: 3_600_000,
  },
  pop3: {
    mode: 'tcp',
    port: 110,
    tlsPort: 995,
    plainBesideTls: false,
    check: 'pop3',
    backendPort: 110,
    balance: 'leastconn',
    idleTimeoutMs: 3_600_000,
  },
  ldap: {
    mode: 'tcp',
    port: 389,
    tlsPort: 636,
    plainBesideTls: false,
    check: 'ldap',
    backendPort: 389,
    balance: 'leastconn',
    idleTimeoutMs: 3_600_000,
  },
  mysql: {
    mode: 'tcp',
    port: 3306,
    tlsPort: 3306,
    plainBesideTls: false,
    check: 'mysql',
    backendPort: 3306,
    balance: 'leastconn',
    idleTimeoutMs: 3_600_000,
  },
  pgsql: {
    mode: 'tcp',
    port: 5432,
    tlsPort: 5432,
    plainBesideTls: false,
    check: 'pgsql',
    backendPort: 5432,
    balance: 'leastconn',
    idleTimeoutMs: 3_600_000,
  },
  redis: {
    mode: 'tcp',
    port: 6379,
    tlsPort: 6380,
    plainBesideTls: false,
    check: 'redis',
    backendPort: 6379,
    balance: 'leastconn',
    idleTimeoutMs: 3_600_000,
  },
} as const satisfies Record<string, ProtocolDescriptor>;

export type Protocol = keyof typeof PROTOCOLS;
export const PROTOCOL_NAMES = Object.keys(PROTOCOLS) as Protocol[];

export function protocol(name: Protocol): ProtocolDescriptor {
  return PROTOCOLS[name];
}
