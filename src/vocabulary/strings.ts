import ipaddr from 'ipaddr.js';

/** Characters that would end or split a token in HAProxy, BIRD, nftables or Icinga configuration. */
const UNSAFE = /[\s#"'`\\;{}$]/;

export function isInjectionSafe(s: string): boolean {
  // C1 controls (U+0085 NEL) and U+2028/U+2029 too: line breaks to some readers, refused by renderers.
  return !hasControl(s) && !UNSAFE.test(s);
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}\\.?$`, 'i');

export function isHostname(s: string): boolean {
  return s.length <= 253 && HOSTNAME.test(s);
}

/** Strict dotted-quad IPv4: four decimal parts, no leading zeros, no `10.1` short forms. */
export function isStrictIPv4(s: string): boolean {
  return /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s);
}

/** IPv6 in textual form (no zone id, no embedded-IPv4 short forms accepted by lax parsers). */
export function isStrictIPv6(s: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(':')) return false;
  if (!ipaddr.IPv6.isValid(s)) return false;
  const v4 = s.match(/:(\d+\.\d+\.\d+\.\d+)$/);
  return v4 === null || isStrictIPv4(v4[1] ?? '');
}

export function isStrictIP(s: string): boolean {
  return isStrictIPv4(s) || isStrictIPv6(s);
}

/** `addr/len` with a strict address and a length within the family; a bare address is a host prefix. */
export function isStrictPrefix(s: string): boolean {
  const [addr, len, extra] = s.split('/');
  if (addr === undefined || extra !== undefined) return false;
  const v4 = isStrictIPv4(addr);
  if (!v4 && !isStrictIPv6(addr)) return false;
  if (len === undefined) return true;
  if (!/^\d{1,3}$/.test(len)) return false;
  return Number(len) <= (v4 ? 32 : 128);
}

export function normalizePrefix(s: string): string {
  if (s.includes('/')) {
    const [addr, len] = ipaddr.parseCIDR(s);
    return `${addr.toString()}/${len}`;
  }
  const a = ipaddr.parse(s);
  return `${a.toString()}/${a.kind() === 'ipv4' ? 32 : 128}`;
}

const cidrCache = new Map<string, [ipaddr.IPv4 | ipaddr.IPv6, number]>();

export function prefixContains(prefix: string, address: string): boolean {
  let cidr = cidrCache.get(prefix);
  if (!cidr) {
    cidr = ipaddr.parseCIDR(prefix.includes('/') ? prefix : normalizePrefix(prefix));
    cidrCache.set(prefix, cidr);
  }
  const [net, len] = cidr;
  const a = address.includes(':') ? ipaddr.IPv6.parse(address) : ipaddr.IPv4.parse(address);
  return a.kind() === net.kind() && a.match(net, len);
}

export function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * A duration's milliseconds: a number is milliseconds already; a string is `<n>(ms|s|m|h|d)?`
 * (the schema's DURATION_PATTERN). NaN for anything else.
 */
export function durationMs(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
  if (!m) return Number.NaN;
  return Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Edit distance, for "did you mean" hints. */
export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagPrev = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diagPrev + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagPrev = tmp;
    }
  }
  return prev[b.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** C0 and C1 controls, DEL and the Unicode line and paragraph separators. */
export function isControlCode(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/** Whether `s` holds a control character or a line break of any kind (`isControlCode`). */
export function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isControlCode(s.charCodeAt(i))) return true;
  return false;
}

/**
 * Whether a `path_prefix` takes `path`: whole segments, as the generated HAProxy rules match.
 * `/old` takes `/old` and `/old/...`, not `/oldies`; `/old/` takes only what lies below it.
 */
export function pathPrefixMatches(prefix: string, path: string): boolean {
  if (prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}
