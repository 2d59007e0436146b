import ipaddr from 'ipaddr.js';

/**
 * One spelling per address, so that every later comparison (VIP claims, node addresses, DNS
 * answers, instance grouping) can compare text: IPv4 as written (the schema takes only strict
 * dotted quads), IPv6 in RFC 5952 form (lowercase, zeros compressed), and an IPv4-mapped IPv6
 * address (`::ffff:198.18.0.1`) as the IPv4 address it maps, since that is the host a socket to
 * it reaches. Text that is not an address is returned unchanged (the schema reported it).
 */
export function canonicalAddress(s: string): string {
  if (!ipaddr.isValid(s)) return s;
  const a = ipaddr.parse(s);
  if (a.kind() === 'ipv6') {
    const v6 = a as ipaddr.IPv6;
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toRFC5952String();
  }
  return a.toString();
}

/** `::ffff:a.b.c.d` in any spelling: an IPv4 address written as IPv6. */
export function isIPv4Mapped(s: string): boolean {
  return ipaddr.IPv6.isValid(s) && ipaddr.IPv6.parse(s).isIPv4MappedAddress();
}

/**
 * `canonicalAddress` for a prefix; a bare address stays bare. An IPv4-mapped prefix of at least
 * /96 becomes the IPv4 prefix it covers.
 */
export function canonicalPrefix(s: string): string {
  const slash = s.indexOf('/');
  if (slash < 0) return canonicalAddress(s);
  const addr = s.slice(0, slash);
  const len = Number(s.slice(slash + 1));
  if (!ipaddr.isValid(addr) || !Number.isInteger(len)) return s;
  if (isIPv4Mapped(addr) && len >= 96) return `${canonicalAddress(addr)}/${len - 96}`;
  return `${canonicalAddress(addr)}/${len}`;
}

/** Why a host at this address must not be a backend server, or undefined when it may be. */
export function specialUse(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  let a = ipaddr.parse(address);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  return SPECIAL[a.range()];
}

const SPECIAL: Readonly<Record<string, string>> = {
  unspecified: 'the unspecified address (this host, any address)',
  loopback: 'a loopback address (the load balancer itself)',
  linkLocal: 'a link-local address (e.g. the cloud metadata service at 169.254.169.254)',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
};
