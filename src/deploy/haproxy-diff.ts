/**
 * What separates two generated configurations of one HAProxy instance: can the running process be
 * brought to the new one through the runtime API alone (server weight, address, added or removed
 * servers), or does it need a reload? Works on our own rendered text, whose shape is known: one
 * statement per line, sections start at column 0, `server` lines inside `backend` sections.
 */

/** A change the runtime API applies to a running worker, in this order: add, set, remove. */
export type RuntimeOp =
  | { op: 'add'; backend: string; server: string; address: string; port: number; options: string[] }
  | { op: 'weight'; backend: string; server: string; weight: number }
  | { op: 'addr'; backend: string; server: string; address: string; port: number }
  | { op: 'del'; backend: string; server: string };

export type InstanceChange =
  | { kind: 'none' }
  | { kind: 'runtime'; ops: RuntimeOp[] }
  | { kind: 'reload'; reason: string };

interface ServerLine {
  name: string;
  address: string;
  port: number;
  /** Every keyword after the address, in order, except `weight <n>`. */
  options: string[];
  weight: number;
}

interface Parsed {
  /** The configuration with every backend's server lines removed. */
  skeleton: string;
  backends: Map<string, { balance: string; defaults: string[]; servers: Map<string, ServerLine> }>;
}

function splitAddress(addr: string): { address: string; port: number } | null {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
  if (m === null) return null;
  return { address: m[1]!, port: Number(m[2]) };
}

function parse(text: string): Parsed | null {
  const skeleton: string[] = [];
  const backends: Parsed['backends'] = new Map();
  let current: { balance: string; defaults: string[]; servers: Map<string, ServerLine> } | null = null;
  for (const line of text.split('\n')) {
    if (line.length > 0 && !line.startsWith(' ')) {
      const m = /^backend (\S+)$/.exec(line);
      current = m === null ? null : { balance: 'roundrobin', defaults: [], servers: new Map() };
      if (m !== null && current !== null) backends.set(m[1]!, current);
      skeleton.push(line);
      continue;
    }
    const words = line.trim().split(/\s+/);
    if (current !== null && words[0] === 'balance') current.balance = words.slice(1).join(' ');
    if (current !== null && words[0] === 'default-server') current.defaults = words.slice(1);
    if (current !== null && words[0] === 'server' && words.length >= 3) {
      const a = splitAddress(words[2]!);
      if (a === null) return null;
      const rest = words.slice(3);
      let weight = 1;
      const options: string[] = [];
      for (let i = 0; i < rest.length; i++) {
        if (rest[i] === 'weight' && i + 1 < rest.length) {
          weight = Number(rest[++i]);
        } else options.push(rest[i]!);
      }
      current.servers.set(words[1]!, { name: words[1]!, ...a, options, weight });
      continue;
    }
    skeleton.push(line);
  }
  return { skeleton: skeleton.join('\n'), backends };
}

/** Server keywords `add server` accepts in HAProxy 2.6 (management.txt), as we render them. */
const ADDABLE = new Set([
  'check',
  'backup',
  'inter',
  'fall',
  'rise',
  'maxconn',
  'send-proxy',
  'send-proxy-v2',
  'ssl',
  'verify',
  'none',
  'required',
  'sni',
  'check-ssl',
  'ca-file',
  'check-sni',
  'alpn',
  'source',
  'usesrc',
  'port',
  'downinter',
  'fastinter',
  'slowstart',
  'observe',
  'on-marked-down',
  'on-error',
  'verifyhost',
]);

/** Algorithms that allow dynamic servers (not static-rr, not map-based hashing). */
function dynamicBalance(balance: string): boolean {
  const algo = balance.split(' ')[0];
  return algo === 'roundrobin' || algo === 'leastconn' || algo === 'first' || algo === 'random';
}

function optionsAddable(options: readonly string[]): boolean {
  // Keywords and their values alternate loosely; values are addresses, numbers, durations or
  // words from ADDABLE (`verify none`). A keyword not known to `add server` (cookie) refuses.
  return options.every(
    (w) => ADDABLE.has(w) || /^[\d.:[\]a-fA-F]+$/.test(w) || /^\d+(ms|s|m)?$/.test(w) || w.includes('/'),
  );
}

/**
 * Classifies the change from `before` to `after` (one instance's config text). Runtime-only when
 * everything but server lines is identical and each server change is one the runtime API makes:
 * weight, address/port, a new server whose keywords `add server` accepts in a backend with a
 * dynamic algorithm, or a removed server.
 */
export function classifyInstanceChange(before: string, after: string): InstanceChange {
  if (before === after) return { kind: 'none' };
  const a = parse(before);
  const b = parse(after);
  if (a === null || b === null) return { kind: 'reload', reason: 'unparsed server line' };
  if (a.skeleton !== b.skeleton) return { kind: 'reload', reason: 'configuration changed' };
  const adds: RuntimeOp[] = [];
  const sets: RuntimeOp[] = [];
  const dels: RuntimeOp[] = [];
  for (const [name, nb] of b.backends) {
    const ob = a.backends.get(name);
    if (ob === undefined) return { kind: 'reload', reason: `backend ${name} added` };
    for (const [sname, s] of nb.servers) {
      const o = ob.servers.get(sname);
      if (o === undefined) {
        if (!dynamicBalance(nb.balance))
          return {
            kind: 'reload',
            reason: `server ${name}/${sname} added to a backend with balance ${nb.balance}`,
          };
        if (!optionsAddable(s.options))
          return { kind: 'reload', reason: `server ${name}/${sname} added with keywords add server lacks` };
        // `add server` ignores default-server: its settings go on the line, the server's own last.
        adds.push({
          op: 'add',
          backend: name,
          server: sname,
          address: s.address,
          port: s.port,
          options: [...nb.defaults, ...s.options, 'weight', String(s.weight)],
        });
        continue;
      }
      if (o.options.join(' ') !== s.options.join(' '))
        return { kind: 'reload', reason: `server ${name}/${sname} options changed` };
      if (o.address !== s.address || o.port !== s.port)
        sets.push({ op: 'addr', backend: name, server: sname, address: s.address, port: s.port });
      if (o.weight !== s.weight) sets.push({ op: 'weight', backend: name, server: sname, weight: s.weight });
    }
    for (const sname of ob.servers.keys()) {
      if (!nb.servers.has(sname)) dels.push({ op: 'del', backend: name, server: sname });
    }
  }
  for (const name of a.backends.keys()) {
    if (!b.backends.has(name)) return { kind: 'reload', reason: `backend ${name} removed` };
  }
  // Server order matters to HAProxy (ids, hashing): a reorder is a real change.
  for (const [name, nb] of b.backends) {
    const kept = [...a.backends.get(name)!.servers.keys()].filter((s) => nb.servers.has(s));
    const order = [...nb.servers.keys()].filter((s) => a.backends.get(name)!.servers.has(s));
    if (kept.join(',') !== order.join(',')) return { kind: 'reload', reason: `servers of ${name} reordered` };
  }
  const ops = [...adds, ...sets, ...dels];
  if (ops.length === 0) return { kind: 'reload', reason: 'configuration changed' };
  return { kind: 'runtime', ops };
}

/** One line per operation, as the plan shows it. */
export function describeOp(op: RuntimeOp): string {
  const ref = `${op.backend}/${op.server}`;
  switch (op.op) {
    case 'add':
      return `add server ${ref} ${op.address}:${op.port} ${op.options.join(' ')}`;
    case 'weight':
      return `set server ${ref} weight ${op.weight}`;
    case 'addr':
      return `set server ${ref} addr ${op.address} port ${op.port}`;
    case 'del':
      return `del server ${ref}`;
  }
}
