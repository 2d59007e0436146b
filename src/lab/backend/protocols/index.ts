/** Which handler serves which protocol, and which protocols speak first. */
import type { Protocol, ProtocolHandler } from '../types.ts';
import { createHttpHandler } from './http.ts';
import { serveLdap } from './ldap.ts';
import { serveImap, servePop3 } from './mailbox.ts';
import { serveMysql } from './mysql.ts';
import { servePgsql } from './pgsql.ts';
import { serveRedis } from './redis.ts';
import { serveSmtp } from './smtp.ts';
import { serveTcp } from './tcp.ts';

/** Protocols where the server talks first, so a client without a PROXY header sends nothing. */
export const SERVER_FIRST: ReadonlySet<Protocol> = new Set<Protocol>([
  'smtp',
  'mysql',
  'tcp',
  'imap',
  'pop3',
]);

/** A fresh set of handlers, one per protocol (the HTTP one owns a parser server). */
export function createProtocolHandlers(): Record<Protocol, ProtocolHandler> {
  return {
    http: createHttpHandler(),
    smtp: serveSmtp,
    ldap: serveLdap,
    mysql: serveMysql,
    pgsql: servePgsql,
    redis: serveRedis,
    tcp: serveTcp,
    imap: serveImap,
    pop3: servePop3,
  };
}
