import { isMap, isPair, isScalar, isSeq, type Node } from 'yaml';

/**
 * Where each node of a YAML file starts (an offset into its text), shaped like the document: all
 * `locate` needs to map a key path back to file:line:column. Both parse paths build it — the fast
 * reader directly, the `yaml` library path from its nodes — so the two answer alike.
 */
export type PosNode = PosMap | PosSeq | PosLeaf;

export interface PosMap {
  kind: 'map';
  at: number;
  /** Each key as `String(key)`, first occurrence only (what a lookup by key finds). */
  entries: Map<string, PosEntry>;
}

export interface PosEntry {
  key: number;
  /** undefined for a pair without a value node (`? key` alone). */
  value: PosNode | undefined;
}

export interface PosSeq {
  kind: 'seq';
  at: number;
  items: (PosNode | undefined)[];
}

/** A scalar, an alias, or anything else a key path cannot descend into. */
export interface PosLeaf {
  kind: 'leaf';
  at: number;
}

/** The position tree of a node composed by the `yaml` library. */
export function positionsOf(node: unknown): PosNode | undefined {
  if (!isNodeLike(node)) return undefined;
  const at = node.range?.[0] ?? 0;
  if (isMap(node)) {
    const entries = new Map<string, PosEntry>();
    for (const p of node.items) {
      if (!isPair(p) || !isScalar(p.key) || !isNodeLike(p.key)) continue;
      const key = String(p.key.value);
      if (!entries.has(key)) entries.set(key, { key: p.key.range?.[0] ?? 0, value: positionsOf(p.value) });
    }
    return { kind: 'map', at, entries };
  }
  if (isSeq(node)) return { kind: 'seq', at, items: node.items.map(positionsOf) };
  return { kind: 'leaf', at };
}

function isNodeLike(n: unknown): n is Node {
  return typeof n === 'object' && n !== null && 'range' in n && Array.isArray((n as Node).range);
}

/**
 * The 1-based line and column of `offset`, given the offsets where lines start. The same binary
 * search as the `yaml` library's `LineCounter.linePos`, so both parse paths report alike.
 */
export function linePos(lineStarts: readonly number[], offset: number): { line: number; col: number } {
  let low = 0;
  let high = lineStarts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (lineStarts[mid]! < offset) low = mid + 1;
    else high = mid;
  }
  if (lineStarts[low] === offset) return { line: low + 1, col: 1 };
  if (low === 0) return { line: 0, col: offset };
  return { line: low, col: offset - lineStarts[low - 1]! + 1 };
}

/** Offsets where the lines of `text` start: 0 and every offset after a line feed. */
export function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}
