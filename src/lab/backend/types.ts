/**
 * Shared vocabulary of the lab's backend server: protocols, modes, listen specs and the per-connection
 * session a protocol handler works on.
 */
import type { Duplex } from 'node:stream';
import type { ProxyHeader } from './proxy-protocol.ts';

/** The protocols a backend port can speak. */
export const PROTOCOLS = ['http', 'smtp', 'ldap', 'mysql', 'pgsql', 'redis', 'imap', 'pop3', 'tcp'] as const;

/** One of {@link PROTOCOLS}. */
export type Protocol = (typeof PROTOCOLS)[number];

/** Every mode, in the order the control socket documents them. */
export const MODES = ['ok', 'fail503', 'silent', 'refuse'] as const;

/**
 * How the host behaves, for all its ports at once:
 * - `ok`: answer normally;
 * - `fail503`: answer with a protocol-level failure (HTTP 503, SMTP 421, LDAP `unavailable`, ...);
 * - `silent`: accept connections but never answer (checks time out);
 * - `refuse`: close the listening sockets and drop open connections (connections are refused).
 */
export type Mode = (typeof MODES)[number];

/** One port to serve, as given by `--listen <protocol>:<address>:<port>[:tls]`. */
export interface ListenSpec {
  protocol: Protocol;
  /** IPv4 or IPv6 address, IPv6 without brackets. */
  address: string;
  /** 0 asks the kernel for an ephemeral port (tests). */
  port: number;
  /** The port speaks TLS (after the PROXY header, if any). */
  tls: boolean;
}

/** What a protocol handler knows about one accepted connection. */
export interface Session {
  /** The host name this backend answers as. */
  readonly host: string;
  /** The local port the connection arrived on. */
  readonly port: number;
  /** The client address: the PROXY header's source when one arrived, else the TCP peer. */
  readonly client: string;
  /** The parsed PROXY header, when the connection started with one. */
  readonly proxy: ProxyHeader | null;
  /** The connection is TLS (the stream carries the decrypted bytes). */
  readonly tls: boolean;
  /** The byte stream to speak the protocol on, PROXY header already stripped. */
  readonly stream: Duplex;
  /** The host's current mode; handlers consult it for every request they answer. */
  mode(): Mode;
}

/** Serves one accepted connection; returns at once, the work happens on the stream's events. */
export type ProtocolHandler = (session: Session) => void;

/** A type guard for {@link Protocol}. */
export function isProtocol(value: string): value is Protocol {
  return (PROTOCOLS as readonly string[]).includes(value);
}

/** A type guard for {@link Mode}. */
export function isMode(value: string): value is Mode {
  return (MODES as readonly string[]).includes(value);
}
