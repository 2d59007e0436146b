import { lookup } from 'node:dns/promises';
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
      const addrs = map.get(normalizeName(name));
      if (!addrs) return undefined;
      return {
        kind: 'found',
        a: addrs.filter(isStrictIPv4).sort(),
        aaaa: addrs.filter((x) => x.includes(':')).sort(),
        source,
      };
    },
  };
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
        (rs): DnsAnswer => ({
          kind: 'found',
          a: rs
            .filter((r) => r.family === 4)
            .map((r) => r.address)
            .sort(),
          aaaa: rs
            .filter((r) => r.family === 6)
            .map((r) => r.address)
            .sort(),
          source,
        }),
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
