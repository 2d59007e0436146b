import { lookup } from 'node:dns/promises';
import { canonicalAddress } from '../vocabulary/addresses.ts';
import { isStrictIPv4 } from '../vocabulary/strings.ts';

/** What DNS says about one name. */
export type DnsAnswer =
  | { kind: 'found'; a: string[]; aaaa: string[]; source: string }
  | { kind: 'none'; source: string }
  | { kind: 'error'; error: string; source: string };

/** The only way the compiler reaches DNS: tests and offline sites never touch the network. */
export interface DnsResolver {
  resolve(name: string): Promise<DnsAnswer | undefined>;
}

/** dns.yaml: an offline map of names to addresses. Unknown names: undefined (ask the next resolver). */
export function staticResolver(map: ReadonlyMap<string, string[]>, source = 'dns.yaml'): DnsResolver {
  return {
    async resolve(name) {
      const written = map.get(normalizeName(name));
      if (!written) return undefined;
      return answer(written, source);
    },
  };
}

/**
 * A found answer in one spelling per address (`canonicalAddress`), so that it compares with the
 * VIPs as text; an IPv4-mapped AAAA record counts as the A record it maps.
 */
function answer(addresses: readonly string[], source: string): DnsAnswer {
  const all = [...new Set(addresses.map(canonicalAddress))].sort();
  return { kind: 'found', a: all.filter(isStrictIPv4), aaaa: all.filter((x) => x.includes(':')), source };
}

/** The system resolver, bounded by a timeout. */
export function systemResolver(timeoutMs: number): DnsResolver {
  return {
    async resolve(name) {
      const source = 'system resolver';
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<DnsAnswer>((resolve) => {
        timer = setTimeout(
          () => resolve({ kind: 'error', error: `no answer within ${timeoutMs} ms`, source }),
          timeoutMs,
        );
      });
      const query = lookup(name.replace(/\.$/, ''), { all: true, verbatim: true }).then(
        (rs): DnsAnswer =>
          answer(
            rs.map((r) => r.address),
            source,
          ),
        (e: NodeJS.ErrnoException): DnsAnswer =>
          e.code === 'ENOTFOUND' || e.code === 'ENODATA'
            ? { kind: 'none', source }
            : { kind: 'error', error: e.code ?? String(e), source },
      );
      try {
        return await Promise.race([query, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Asks each resolver in turn until one knows the name. */
export function chainResolvers(...resolvers: DnsResolver[]): DnsResolver {
  return {
    async resolve(name) {
      for (const r of resolvers) {
        const a = await r.resolve(name);
        if (a !== undefined) return a;
      }
      return undefined;
    },
  };
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Resolves every name once, a few at a time. */
export async function resolveAll(
  resolver: DnsResolver,
  names: Iterable<string>,
  concurrency = 16,
): Promise<Map<string, DnsAnswer>> {
  const todo = [...new Set([...names].map(normalizeName))].sort();
  const out = new Map<string, DnsAnswer>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const name = todo[next++]!;
      const a = await resolver.resolve(name);
      if (a !== undefined) out.set(name, a);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  return out;
}
