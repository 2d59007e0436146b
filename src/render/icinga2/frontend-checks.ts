import type { Protocol } from '../../vocabulary/protocols.ts';
import { type IcingaValue, macroText } from './values.ts';

/** A custom variable (`vars.<name> = <value>`). */
export type Var = readonly [name: string, value: IcingaValue];

/** What a VIP frontend check needs to know about one listener on one address. */
export interface FrontendTarget {
  address: string;
  port: number;
  /** The load balancer terminates TLS on this port. */
  tls: boolean;
  /** The first FQDN: Host header and SNI. */
  fqdn?: string;
  /** `monitoring.url`. */
  url: string;
}

/** An ITL CheckCommand of the monitoring-plugins and its variables. */
export interface PluginCheck {
  command: string;
  vars: Var[];
}

type FrontendCheck = (t: FrontendTarget) => PluginCheck;

const http: FrontendCheck = (t) => ({
  command: 'http',
  vars: [
    ['http_address', t.address],
    ['http_port', t.port],
    ['http_ssl', t.tls],
    ...opt(t.tls && t.fqdn !== undefined, 'http_sni', true),
    ...maybe('http_vhost', t.fqdn === undefined ? undefined : macroText(t.fqdn)),
    ['http_uri', macroText(t.url)],
  ],
});

const tcp: FrontendCheck = (t) => ({
  command: 'tcp',
  vars: [['tcp_address', t.address], ['tcp_port', t.port], ...opt(t.tls, 'tcp_ssl', true)],
});

/** SMTP on a plain port speaks first; on the TLS port (465, implicit TLS) check_ssmtp does. */
const smtp: FrontendCheck = (t) =>
  t.tls
    ? {
        command: 'ssmtp',
        vars: [
          ['ssmtp_address', t.address],
          ['ssmtp_port', t.port],
        ],
      }
    : {
        command: 'smtp',
        vars: [
          ['smtp_address', t.address],
          ['smtp_port', t.port],
        ],
      };

/** The database protocols negotiate TLS inside the protocol: a TLS listener is checked as TLS. */
const orTls =
  (plain: FrontendCheck): FrontendCheck =>
  (t) =>
    t.tls ? tcp(t) : plain(t);

/**
 * The check of each protocol's frontends, from monitoring-plugins through the Icinga Template
 * Library (ITL). Credentials never come from the intent: check_mysql checks the server answers
 * (`-n`: an authentication failure still counts as up), check_pgsql logs in as the Icinga user's
 * libpq defaults (`~/.pgpass`, `PGUSER`) on the monitoring host, check_ldap binds anonymously
 * and reads the root DSE.
 */
export const FRONTEND_CHECKS: Readonly<Record<Protocol, FrontendCheck>> = {
  http,
  tcp,
  smtp,
  submission: smtp,
  imap: (t) => ({
    command: 'imap',
    vars: [['imap_address', t.address], ['imap_port', t.port], ...opt(t.tls, 'imap_ssl', true)],
  }),
  pop3: (t) => ({
    command: 'pop',
    vars: [['pop_address', t.address], ['pop_port', t.port], ...opt(t.tls, 'pop_ssl', true)],
  }),
  ldap: (t) => ({
    command: 'ldap',
    vars: [
      ['ldap_address', t.address],
      ['ldap_port', t.port],
      ['ldap_base', ''],
      ['ldap_v2', false],
      ['ldap_v3', true],
      ...opt(t.tls, 'ldap_ssl', true),
    ],
  }),
  mysql: orTls((t) => ({
    command: 'mysql',
    vars: [
      ['mysql_hostname', t.address],
      ['mysql_port', t.port],
      ['mysql_ignore_auth', true],
    ],
  })),
  pgsql: orTls((t) => ({
    command: 'pgsql',
    vars: [
      ['pgsql_hostname', t.address],
      ['pgsql_port', t.port],
    ],
  })),
  redis: tcp,
};

/**
 * Certificate expiry of a TLS listener: warning 30 days before, critical 14 (check_http sends the
 * FQDN as SNI, so the certificate HAProxy picks for it is the one judged).
 */
export const CERT_DAYS = '30,14';

export function certCheck(t: FrontendTarget, httpMode: boolean): PluginCheck {
  if (!httpMode) {
    return {
      command: 'tcp',
      vars: [
        ['tcp_address', t.address],
        ['tcp_port', t.port],
        ['tcp_ssl', true],
        ['tcp_certificate', CERT_DAYS],
      ],
    };
  }
  return {
    command: 'http',
    vars: [
      ['http_address', t.address],
      ['http_port', t.port],
      ['http_ssl', true],
      ...opt(t.fqdn !== undefined, 'http_sni', true),
      ...maybe('http_vhost', t.fqdn === undefined ? undefined : macroText(t.fqdn)),
      ['http_certificate', CERT_DAYS],
    ],
  };
}

/** The variable when `when` holds, else nothing: spread into a list of variables. */
export function opt(when: boolean, name: string, value: IcingaValue): Var[] {
  return when ? [[name, value]] : [];
}

/** The variable when it has a value, else nothing. */
export function maybe(name: string, value: IcingaValue | undefined): Var[] {
  return value === undefined ? [] : [[name, value]];
}
