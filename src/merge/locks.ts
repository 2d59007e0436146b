import { type Diagnostic, diag } from '../diagnostics/index.ts';
import { locate, type PathSegment } from '../load/index.ts';
import { isTree, type Layer, type Tree } from './merge.ts';

/** A `lock:` entry: the dotted key may not be set in any file below `layer`. */
export interface Lock {
  key: string;
  /** Index of the defaults layer that declared it. */
  layer: number;
  /** Position of the entry in that file's `lock:` list (for `related`). */
  index: number;
}

/** A key path in a file, with `*` standing for any list index. */
type Pattern = readonly (string | '*')[];

/**
 * Keys of a backend that a server entry overrides for that one server: `backend.port` is the
 * port of every server without a `port:` of its own, `backend.maxconn` the `default-server`
 * limit a server's `maxconn:` replaces.
 */
const PER_SERVER = new Set(['port', 'maxconn']);

/** `group` and `servers` both say which hosts get the traffic: locking one fixes the other too. */
const SAME_SERVERS: Readonly<Record<string, string>> = { group: 'servers', servers: 'group' };

/**
 * Every place in a file that sets what the locked key sets. A backend key is also set by each
 * route's backend (`routes[*].backend.<key>`), `backend.port` / `backend.maxconn` also by a
 * server's own `port` / `maxconn`, and `backend.group` by `backend.servers` (and the reverse),
 * in the service's backend and in every route's.
 */
export function lockPatterns(key: string): Pattern[] {
  const segs = key.split('.');
  if (segs[0] !== 'backend') return [segs];
  const rest = segs.slice(1);
  const inBackend: Pattern[] = [rest];
  if (rest.length === 1 && PER_SERVER.has(rest[0]!)) inBackend.push(['servers', '*', rest[0]!]);
  const other = rest.length === 1 ? SAME_SERVERS[rest[0]!] : undefined;
  if (other !== undefined) inBackend.push([other]);
  return inBackend.flatMap((p) => [
    ['backend', ...p],
    ['routes', '*', 'backend', ...p],
  ]);
}

/** Every key path set in a tree, into maps and into lists (list items by index). */
function allPaths(v: unknown, prefix: PathSegment[], out: PathSegment[][]): PathSegment[][] {
  if (isTree(v)) {
    for (const [k, x] of Object.entries(v)) {
      const p = [...prefix, k];
      out.push(p);
      allPaths(x, p, out);
    }
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (isTree(x) || Array.isArray(x)) allPaths(x, [...prefix, i], out);
    });
  }
  return out;
}

/** `path` is the pattern's key or a key inside it. */
function covers(pattern: Pattern | readonly PathSegment[], path: readonly PathSegment[]): boolean {
  if (path.length < pattern.length) return false;
  return pattern.every((s, i) => (s === '*' ? typeof path[i] === 'number' : s === path[i]));
}

/**
 * Reports every key set below a lock that the lock covers: the key itself or anything inside it,
 * wherever the file can set it (see `lockPatterns`). One report per place: a locked map written
 * below is reported at the map, not at each key inside it.
 */
export function checkLocks(layers: readonly Layer[], locks: readonly Lock[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const lock of locks) {
    const lockFile = layers[lock.layer]!.file;
    const patterns = lockPatterns(lock.key);
    for (let i = lock.layer + 1; i < layers.length; i++) {
      const layer = layers[i]!;
      const reported: PathSegment[][] = [];
      for (const path of allPaths(layer.data as Tree, [], [])) {
        if (!patterns.some((p) => covers(p, path))) continue;
        if (reported.some((r) => covers(r, path))) continue;
        reported.push(path);
        const key = path.join('.');
        const at = locate(lockFile, ['lock', lock.index], 'value');
        out.push(
          diag('E_LOCKED_KEY', {
            message:
              key === lock.key || key.startsWith(`${lock.key}.`)
                ? `\`${key}\` is locked by ${lockFile.path} and may not be set here`
                : `\`${key}\` sets what \`${lock.key}\` sets, which ${lockFile.path} locks`,
            at: locate(layer.file, path, 'key'),
            path: key,
            hint: `remove it, or ask the owners of ${lockFile.path} to change the value there`,
            related: [{ ...at, message: `\`${lock.key}\` is locked here` }],
          }),
        );
      }
    }
  }
  return out;
}
