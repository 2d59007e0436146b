/**
 * A pure parser for the PROXY protocol, versions 1 (text) and 2 (binary), as specified in HAProxy's
 * `doc/proxy-protocol.txt`. It never touches a socket: give it the bytes received so far and it tells
 * whether they start with a complete header, could still become one, or are something else.
 */
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/** The 12 bytes every v2 header starts with: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 header, CRLF included (spec section 2.1). */
const V1_MAX_LENGTH = 107;
const V2_FIXED_LENGTH = 16;

/** The address family the header announces. */
export type ProxyFamily = 'unspec' | 'inet' | 'inet6' | 'unix';

/** The transport the header announces (v1 always says stream, or unspec for UNKNOWN). */
export type ProxyTransport = 'unspec' | 'stream' | 'dgram';

/** The original connection's endpoints, for IPv4 and IPv6 headers. */
export interface ProxyAddresses {
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
}

/** One v2 Type-Length-Value extension, kept raw. */
export interface ProxyTlv {
  type: number;
  value: Buffer;
}

/** A parsed PROXY header. */
export interface ProxyHeader {
  version: 1 | 2;
  /** `local`: v2 LOCAL (health checks, the proxy's own connection): use the real endpoints. */
  command: 'proxy' | 'local';
  family: ProxyFamily;
  transport: ProxyTransport;
  /** Null for LOCAL, v1 UNKNOWN and families without IP addresses. */
  addresses: ProxyAddresses | null;
  /** v2 extensions in order of appearance; always empty for v1. */
  tlvs: readonly ProxyTlv[];
}

/** The answer of {@link parseProxyHeader}. */
export type ProxyParseResult =
  | { kind: 'need-more' }
  | { kind: 'none' }
  | { kind: 'ok'; header: ProxyHeader; consumed: number }
  | { kind: 'error'; reason: string };

const NEED_MORE: ProxyParseResult = { kind: 'need-more' };
const NONE: ProxyParseResult = { kind: 'none' };

function error(reason: string): ProxyParseResult {
  return { kind: 'error', reason };
}

/** Whether `buf` starts with `prefix` (`full`), is a strict prefix of it (`partial`), or neither. */
function prefixMatch(buf: Uint8Array, prefix: Uint8Array): 'full' | 'partial' | 'mismatch' {
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return 'mismatch';
  return buf.length >= prefix.length ? 'full' : 'partial';
}

/**
 * Parses the PROXY header at the start of `buf`.
 *
 * - `need-more`: the bytes so far are a prefix of a possible header (an empty buffer included);
 * - `none`: the bytes cannot start a PROXY header; the connection has none;
 * - `ok`: a complete header; `consumed` bytes belong to it, the rest is the protocol's;
 * - `error`: the bytes claim to be a PROXY header but are malformed; drop the connection.
 */
export function parseProxyHeader(buf: Uint8Array): ProxyParseResult {
  const v2 = prefixMatch(buf, PROXY_V2_SIGNATURE);
  if (v2 === 'full') return parseV2(buf);
  const v1 = prefixMatch(buf, V1_PREFIX);
  if (v1 === 'full') return parseV1(buf);
  return v2 === 'partial' || v1 === 'partial' ? NEED_MORE : NONE;
}

function parseV1(buf: Uint8Array): ProxyParseResult {
  const limit = Math.min(buf.length, V1_MAX_LENGTH);
  let lf = -1;
  for (let i = 0; i < limit; i++) {
    if (buf[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf < 0) return buf.length >= V1_MAX_LENGTH ? error('v1 header longer than 107 bytes') : NEED_MORE;
  if (buf[lf - 1] !== 0x0d) return error('v1 header does not end with CRLF');
  const line = Buffer.from(buf.subarray(0, lf - 1)).toString('latin1');
  if (!/^[\x20-\x7e]*$/.test(line)) return error('v1 header has non-printable characters');
  const parts = line.split(' ');
  const consumed = lf + 1;
  if (parts[1] === 'UNKNOWN') {
    const header: ProxyHeader = {
      version: 1,
      command: 'proxy',
      family: 'unspec',
      transport: 'unspec',
      addresses: null,
      tlvs: [],
    };
    return { kind: 'ok', header, consumed };
  }
  if (parts[1] !== 'TCP4' && parts[1] !== 'TCP6') return error(`v1 unknown protocol ${String(parts[1])}`);
  if (parts.length !== 6) return error('v1 header needs protocol, 2 addresses and 2 ports');
  const [, proto, src = '', dst = '', sport = '', dport = ''] = parts;
  const valid = proto === 'TCP4' ? isIPv4 : isIPv6;
  if (!valid(src) || !valid(dst)) return error(`v1 bad ${proto} address`);
  const sourcePort = parsePort(sport);
  const destinationPort = parsePort(dport);
  if (sourcePort === null || destinationPort === null) return error('v1 bad port');
  const addresses: ProxyAddresses = {
    source: canonical(src),
    sourcePort,
    destination: canonical(dst),
    destinationPort,
  };
  const header: ProxyHeader = {
    version: 1,
    command: 'proxy',
    family: proto === 'TCP4' ? 'inet' : 'inet6',
    transport: 'stream',
    addresses,
    tlvs: [],
  };
  return { kind: 'ok', header, consumed };
}

function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

const FAMILIES: readonly ProxyFamily[] = ['unspec', 'inet', 'inet6', 'unix'];
const TRANSPORTS: readonly ProxyTransport[] = ['unspec', 'stream', 'dgram'];
/** Size of the address block per family (spec section 2.2). */
const ADDRESS_BLOCK: Record<ProxyFamily, number> = { unspec: 0, inet: 12, inet6: 36, unix: 216 };

function parseV2(buf: Uint8Array): ProxyParseResult {
  if (buf.length < V2_FIXED_LENGTH) return NEED_MORE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return error(`v2 bad version ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return error(`v2 bad command ${cmd}`);
  const famByte = buf[13]!;
  const family = FAMILIES[famByte >> 4];
  const transport = TRANSPORTS[famByte & 0x0f];
  if (family === undefined || transport === undefined) return error(`v2 bad address family ${famByte}`);
  const length = (buf[14]! << 8) | buf[15]!;
  const consumed = V2_FIXED_LENGTH + length;
  if (buf.length < consumed) return NEED_MORE;
  const body = Buffer.from(buf.buffer, buf.byteOffset + V2_FIXED_LENGTH, length);
  const blockLength = ADDRESS_BLOCK[family];
  if (length < blockLength) return error(`v2 address block too short for ${family}`);
  const tlvs = parseTlvs(body.subarray(blockLength));
  if (typeof tlvs === 'string') return error(tlvs);
  const command = cmd === 0 ? 'local' : 'proxy';
  const addresses = command === 'proxy' ? readAddresses(family, body) : null;
  return { kind: 'ok', header: { version: 2, command, family, transport, addresses, tlvs }, consumed };
}

function readAddresses(family: ProxyFamily, body: Buffer): ProxyAddresses | null {
  if (family === 'inet') {
    return {
      source: formatIp(body.subarray(0, 4)),
      destination: formatIp(body.subarray(4, 8)),
      sourcePort: body.readUInt16BE(8),
      destinationPort: body.readUInt16BE(10),
    };
  }
  if (family === 'inet6') {
    return {
      source: formatIp(body.subarray(0, 16)),
      destination: formatIp(body.subarray(16, 32)),
      sourcePort: body.readUInt16BE(32),
      destinationPort: body.readUInt16BE(34),
    };
  }
  return null;
}

/** Splits the TLV area; a string is the reason it is malformed. */
function parseTlvs(area: Buffer): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = [];
  let at = 0;
  while (at < area.length) {
    if (area.length - at < 3) return 'v2 truncated TLV header';
    const type = area[at]!;
    const length = area.readUInt16BE(at + 1);
    if (area.length - at - 3 < length) return `v2 TLV 0x${type.toString(16)} overruns the header`;
    tlvs.push({ type, value: Buffer.from(area.subarray(at + 3, at + 3 + length)) });
    at += 3 + length;
  }
  return tlvs;
}

/**
 * The conventional text form of a 4- or 16-byte address: dotted quad, RFC 5952 IPv6, and
 * `::ffff:a.b.c.d` for IPv4-mapped IPv6 (the form Node's sockets report).
 */
export function formatIp(bytes: Uint8Array): string {
  const parsed = ipaddr.fromByteArray(Array.from(bytes));
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    return `::ffff:${(parsed as ipaddr.IPv6).toIPv4Address().toString()}`;
  return parsed.toString();
}

/** The canonical text form of a textual IPv4 or IPv6 address (see {@link formatIp}). */
export function canonical(address: string): string {
  return formatIp(Uint8Array.from(ipaddr.parse(address).toByteArray()));
}
