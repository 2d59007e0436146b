/**
 * How each non-HTTP protocol the intent can declare shows that it answers: what the probe sends
 * first (if anything) and how it judges the bytes that come back. One descriptor per protocol;
 * the port check reads the table and never branches on a protocol's name.
 */
import type { Protocol } from '../../vocabulary/protocols.ts';

/** `undefined`: not enough bytes yet. */
export type Verdict = { ok: boolean; detail: string } | undefined;

export interface Greeting {
  /** Sent right after the connection (or TLS handshake) is up. */
  send?: Buffer;
  judge(data: Buffer): Verdict;
  /** Plain TCP: no protocol to speak; a connection that stays open this long counts as served. */
  quietOkMs?: number;
}

const firstLine = (data: Buffer): string | undefined => {
  const i = data.indexOf('\n');
  return i < 0 ? undefined : data.subarray(0, i).toString('latin1').replace(/\r$/, '');
};

/** A text protocol whose server speaks first with a line starting with `prefix`. */
function banner(prefix: string, what: string): Greeting {
  return {
    judge(data) {
      const line = firstLine(data);
      if (line === undefined) return undefined;
      const shown = printable(line);
      return line.startsWith(prefix)
        ? { ok: true, detail: `${what} ${shown}` }
        : { ok: false, detail: `expected ${what}, got ${shown}` };
    },
  };
}

/** At most 60 printable characters of a line from the network. */
export function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 60 ? `${clean.slice(0, 60)}…` : clean);
}

/** LDAP: an anonymous simple bind (message 1), answered by a BindResponse with resultCode 0. */
const LDAP_BIND = Buffer.from('300c020101600702010304008000', 'hex');

/** A BER length at `i`: [length, bytes it took]; undefined when incomplete. */
function berLength(b: Buffer, i: number): [number, number] | undefined {
  const first = b[i];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, 1];
  const n = first & 0x7f;
  if (n === 0 || n > 4 || i + 1 + n > b.length) return undefined;
  let len = 0;
  for (let k = 0; k < n; k++) len = len * 256 + b[i + 1 + k]!;
  return [len, 1 + n];
}

export function judgeLdapBind(data: Buffer): Verdict {
  if (data.length < 2) return undefined;
  if (data[0] !== 0x30) return { ok: false, detail: 'not an LDAP message' };
  const outer = berLength(data, 1);
  if (outer === undefined || data.length < 1 + outer[1] + outer[0]) return undefined;
  let i = 1 + outer[1];
  if (data[i] !== 0x02) return { ok: false, detail: 'not an LDAP message' };
  const id = berLength(data, i + 1);
  if (id === undefined) return undefined;
  i += 1 + id[1] + id[0];
  if (data[i] !== 0x61) return { ok: false, detail: 'no BindResponse' };
  const op = berLength(data, i + 1);
  if (op === undefined) return undefined;
  i += 1 + op[1];
  if (data[i] !== 0x0a || data[i + 1] !== 0x01) return { ok: false, detail: 'malformed BindResponse' };
  const code = data[i + 2]!;
  return code === 0
    ? { ok: true, detail: 'LDAP anonymous bind: success' }
    : { ok: false, detail: `LDAP anonymous bind: resultCode ${code}` };
}

export function judgeMysql(data: Buffer): Verdict {
  if (data.length < 5) return undefined;
  const len = data.readUIntLE(0, 3);
  if (data.length < 4 + Math.min(len, 64)) return undefined;
  const payload = data.subarray(4, 4 + len);
  if (payload[0] === 0x0a) {
    const end = payload.indexOf(0, 1);
    return {
      ok: true,
      detail: `MySQL greeting, server ${printable(payload.subarray(1, end < 0 ? 30 : end).toString('latin1'))}`,
    };
  }
  if (payload[0] === 0xff) {
    return { ok: false, detail: `MySQL error ${printable(payload.subarray(9).toString('latin1'))}` };
  }
  return { ok: false, detail: 'not a MySQL greeting' };
}

/** PostgreSQL: an SSLRequest, answered with one byte, `S` or `N`. */
const PG_SSL_REQUEST = Buffer.from('0000000804d2162f', 'hex');

export function judgePg(data: Buffer): Verdict {
  if (data.length < 1) return undefined;
  const c = String.fromCharCode(data[0]!);
  return c === 'S' || c === 'N'
    ? { ok: true, detail: `PostgreSQL answers the SSLRequest with ${c}` }
    : { ok: false, detail: `not a PostgreSQL server (first byte ${printable(c)})` };
}

const smtp = banner('220', 'SMTP banner');

export const GREETINGS: Record<Exclude<Protocol, 'http'>, Greeting> = {
  tcp: {
    judge: (data) => (data.length > 0 ? { ok: true, detail: 'connected, data received' } : undefined),
    quietOkMs: 1000,
  },
  smtp,
  submission: smtp,
  imap: banner('* OK', 'IMAP greeting'),
  pop3: banner('+OK', 'POP3 greeting'),
  ldap: { send: LDAP_BIND, judge: judgeLdapBind },
  mysql: { judge: judgeMysql },
  pgsql: { send: PG_SSL_REQUEST, judge: judgePg },
  redis: {
    send: Buffer.from('PING\r\n'),
    judge(data) {
      const line = firstLine(data);
      if (line === undefined) return undefined;
      // A server that wants a password still speaks Redis: it answers -NOAUTH.
      return line === '+PONG' || line.startsWith('-NOAUTH')
        ? { ok: true, detail: `Redis ${printable(line)}` }
        : { ok: false, detail: `expected +PONG, got ${printable(line)}` };
    },
  },
};

/**
 * Servers that say which client address they saw (the lab's backends do, in these protocols):
 * what to send and where the address is in the answer. The `proxy` check reads this table.
 */
export interface WhoAmI {
  send?: Buffer;
  /** The client address the server names; undefined while the answer is incomplete. */
  client(data: Buffer): string | undefined;
}

const inGreeting: WhoAmI = {
  client: (data) => {
    const line = firstLine(data);
    return line === undefined ? undefined : (/\(client ([^)\s]+)\)/.exec(line)?.[1] ?? '');
  },
};

/** An LDAP search with the base DN `cn=session`: the lab's directory answers host, port and client. */
const LDAP_SESSION_SEARCH = Buffer.from('30170201026312040a636e3d73657373696f6e0a01000a0100', 'hex');

/**
 * The value of the attribute `client` in the answer to the session search: the messages are read
 * one by one; a searchResultEntry (0x64) holds `04 06 "client" 31 len 04 len value`, a
 * searchResultDone (0x65) without one means the server does not say ('').
 */
export function ldapClient(data: Buffer): string | undefined {
  let i = 0;
  while (i < data.length) {
    if (data[i] !== 0x30) return '';
    const outer = berLength(data, i + 1);
    if (outer === undefined) return undefined;
    const end = i + 1 + outer[1] + outer[0];
    if (end > data.length) return undefined;
    const msg = data.subarray(i, end);
    const id = berLength(msg, 1 + outer[1] + 1);
    if (id === undefined) return '';
    const op = msg[1 + outer[1] + 1 + id[1] + id[0]];
    if (op === 0x64) {
      const at = msg.indexOf('\x04\x06client1', 0, 'latin1');
      const v = at < 0 ? -1 : at + 10;
      if (v >= 0 && msg[v] === 0x04 && msg[v + 1] !== undefined) {
        return msg.subarray(v + 2, v + 2 + msg[v + 1]!).toString('latin1');
      }
    }
    if (op === 0x65) return '';
    i = end;
  }
  return undefined;
}

export const WHOAMI: Partial<Record<Protocol, WhoAmI>> = {
  tcp: {
    client: (data) => {
      const line = firstLine(data);
      return line === undefined ? undefined : (line.split(' ')[2] ?? '');
    },
  },
  imap: inGreeting,
  pop3: inGreeting,
  ldap: { send: Buffer.concat([LDAP_BIND, LDAP_SESSION_SEARCH]), client: ldapClient },
};
