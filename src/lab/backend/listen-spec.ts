/**
 * Parses and prints the `--listen` argument of the lab backend:
 * `<protocol>:<address>:<port>[:tls]`, IPv6 addresses in brackets (`http:[2001:db8::5]:8080:tls`).
 */
import { isIP } from 'node:net';
import { isProtocol, type ListenSpec, PROTOCOLS } from './types.ts';

const SPEC = /^([a-z]+):(\[[^\]]*\]|[^:[\]]*):([0-9]+)(?::(tls))?$/;

/** Parses one listen spec; throws an `Error` saying what is wrong. */
export function parseListenSpec(text: string): ListenSpec {
  const m = SPEC.exec(text);
  if (m === null) throw new Error(`bad listen spec '${text}': expected <protocol>:<address>:<port>[:tls]`);
  const [, protocol = '', rawAddress = '', rawPort = '', tls] = m;
  if (!isProtocol(protocol))
    throw new Error(`bad listen spec '${text}': protocol must be one of ${PROTOCOLS.join(', ')}`);
  const bracketed = rawAddress.startsWith('[');
  const address = bracketed ? rawAddress.slice(1, -1) : rawAddress;
  const family = isIP(address);
  if (family === 0) throw new Error(`bad listen spec '${text}': '${address}' is not an IP address`);
  if (family === 6 && !bracketed)
    throw new Error(`bad listen spec '${text}': write IPv6 addresses in brackets`);
  if (family === 4 && bracketed) throw new Error(`bad listen spec '${text}': only IPv6 takes brackets`);
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port > 65535 || rawPort.length > 5)
    throw new Error(`bad listen spec '${text}': port must be 0-65535`);
  return { protocol, address, port, tls: tls !== undefined };
}

/** The text form of a listen spec, the inverse of {@link parseListenSpec}. */
export function formatListenSpec(spec: ListenSpec): string {
  const address = isIP(spec.address) === 6 ? `[${spec.address}]` : spec.address;
  return `${spec.protocol}:${address}:${spec.port}${spec.tls ? ':tls' : ''}`;
}
