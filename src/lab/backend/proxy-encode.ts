/**
 * Builds PROXY protocol headers, the inverse of `proxy-protocol.ts`: lab clients and tests use it to
 * speak as HAProxy does (`send-proxy`, `send-proxy-v2`).
 */
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { PROXY_V2_SIGNATURE, type ProxyAddresses, type ProxyTlv } from './proxy-protocol.ts';

/** A v1 header: `PROXY TCP4|TCP6 src dst sport dport\r\n`, or `PROXY UNKNOWN\r\n` without addresses. */
export function encodeProxyV1(addresses: ProxyAddresses | null): Buffer {
  if (addresses === null) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const { source, destination, sourcePort, destinationPort } = addresses;
  const proto = isIPv4(source) ? 'TCP4' : 'TCP6';
  return Buffer.from(
    `PROXY ${proto} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`,
    'latin1',
  );
}

/** What {@link encodeProxyV2} writes. */
export interface ProxyV2Spec {
  /** `local` writes an AF_UNSPEC LOCAL header, as HAProxy's health checks do. */
  command: 'proxy' | 'local';
  /** Required for `proxy`; both addresses of the same family. */
  addresses?: ProxyAddresses;
  tlvs?: readonly ProxyTlv[];
}

/** A binary v2 header (stream transport for PROXY, UNSPEC/UNSPEC for LOCAL). */
export function encodeProxyV2(spec: ProxyV2Spec): Buffer {
  let famByte = 0x00;
  let block = Buffer.alloc(0);
  if (spec.command === 'proxy') {
    const a = spec.addresses;
    if (a === undefined) throw new Error('a v2 PROXY header needs addresses');
    const v4 = isIPv4(a.source);
    famByte = v4 ? 0x11 : 0x21;
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(a.sourcePort, 0);
    ports.writeUInt16BE(a.destinationPort, 2);
    block = Buffer.concat([ipBytes(a.source, v4), ipBytes(a.destination, v4), ports]);
  }
  const tlvs = (spec.tlvs ?? []).map((t) => {
    const head = Buffer.from([t.type, t.value.length >> 8, t.value.length & 0xff]);
    return Buffer.concat([head, t.value]);
  });
  const body = Buffer.concat([block, ...tlvs]);
  const fixed = Buffer.alloc(4);
  fixed[0] = spec.command === 'proxy' ? 0x21 : 0x20;
  fixed[1] = famByte;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}

function ipBytes(address: string, v4: boolean): Buffer {
  const parsed = ipaddr.parse(address);
  if ((parsed.kind() === 'ipv4') !== v4) throw new Error(`mixed address families: ${address}`);
  return Buffer.from(parsed.toByteArray());
}
