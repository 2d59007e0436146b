/**
 * Address arithmetic for the lab: the ranges it may use, the segment around an address, and the
 * free addresses and prefixes it picks for the router and the client. Pure.
 */
import ipaddr from 'ipaddr.js';
import { familyOf, prefixContains } from '../vocabulary/strings.ts';

/** The only ranges the lab puts on an interface: benchmarking (RFC 2544) and documentation (RFC 3849). */
export const LAB_RANGES = ['198.18.0.0/15', '2001:db8::/32'] as const;

/** Prefix length of a segment: a /24 around an IPv4 address, a /64 around an IPv6 one. */
export const SEGMENT_LENGTH = { 4: 24, 6: 64 } as const;

/** Whether an address lies in one of {@link LAB_RANGES}. */
export function inLabRanges(address: string): boolean {
  return LAB_RANGES.some((r) => prefixContains(r, address));
}

/** The canonical text of an address (lower case, RFC 5952 for IPv6). */
export function canonical(address: string): string {
  const a = ipaddr.parse(address);
  return a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
}

/** The segment (`net/len`) an address belongs to. */
export function segmentOf(address: string): string {
  const len = SEGMENT_LENGTH[familyOf(address)];
  return networkOf(address, len);
}

/** The network address of `address/len`, as `net/len`. */
export function networkOf(address: string, len: number): string {
  const a = ipaddr.parse(address);
  const net =
    a.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${len}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${len}`).toRFC5952String();
  return `${net}/${len}`;
}

/** Two prefixes of the same family share an address. */
export function overlaps(a: string, b: string): boolean {
  if (familyOf(a) !== familyOf(b)) return false;
  const na = a.split('/')[0]!;
  const nb = b.split('/')[0]!;
  return prefixContains(a, nb) || prefixContains(b, na);
}

/** The `n`th address of a prefix (0 is the network address). */
export function nthAddress(prefix: string, n: number): string {
  const [net, len] = ipaddr.parseCIDR(prefix);
  const bytes = net.toByteArray();
  let carry = n;
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const sum = bytes[i]! + carry;
    bytes[i] = sum % 256;
    carry = Math.floor(sum / 256);
  }
  const addr = ipaddr.fromByteArray(bytes);
  const text = addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString();
  if (!prefixContains(`${net.toString()}/${len}`, text)) throw new Error(`${prefix} has no address #${n}`);
  return text;
}

/** Sorts addresses or prefixes numerically, IPv4 before IPv6. */
export function compareAddresses(a: string, b: string): number {
  const x = ipaddr.parse(a.split('/')[0]!).toByteArray();
  const y = ipaddr.parse(b.split('/')[0]!).toByteArray();
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  const lx = Number(a.split('/')[1] ?? 0);
  const ly = Number(b.split('/')[1] ?? 0);
  return lx - ly;
}

/**
 * The lowest host address of a segment not in `taken` (from .1 / ::1 up), or undefined when the
 * first `limit` are all taken.
 */
export function firstFreeAddress(
  prefix: string,
  taken: ReadonlySet<string>,
  limit = 254,
): string | undefined {
  for (let n = 1; n <= limit; n++) {
    const a = nthAddress(prefix, n);
    if (!taken.has(a)) return a;
  }
  return undefined;
}

/**
 * Candidate client segments, in order of preference: 198.19.0.0/24 … 198.19.255.0/24, then
 * 198.18.255.0/24 down to 198.18.0.0/24; 2001:db8:ffff::/64, 2001:db8:fffe::/64, … (4096 of them).
 */
export function clientSegmentCandidates(family: 4 | 6): string[] {
  if (family === 4) {
    const up = Array.from({ length: 256 }, (_, i) => `198.19.${i}.0/24`);
    const down = Array.from({ length: 256 }, (_, i) => `198.18.${255 - i}.0/24`);
    return [...up, ...down];
  }
  return Array.from({ length: 4096 }, (_, i) => `2001:db8:${(0xffff - i).toString(16)}::/64`);
}
