import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { type Diagnostic, diag, type Location } from '../diagnostics/index.ts';

/** One parsed YAML file of the site, with what is needed to map a path back to file:line:column. */
export interface SourceFile {
  /** Site-relative path with `/`. */
  path: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** false when the file had YAML errors: later stages skip it. */
  ok: boolean;
  /** `doc.toJS()` when ok, else undefined. */
  data: unknown;
}

export type PathSegment = string | number;

export function parseSource(path: string, text: string): { file: SourceFile; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    diagnostics.push(
      diag('E_YAML_SYNTAX', {
        message: firstLine(e.message),
        at: { file: path, line: pos.line, column: pos.col },
        hint: e.code === 'DUPLICATE_KEY' ? 'a key may appear once per map' : undefined,
      }),
    );
  }
  let ok = doc.errors.length === 0;
  let data: unknown;
  if (ok) {
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // yaml refuses aliases that expand too far (a "billion laughs" file): a finding, not a crash.
      ok = false;
      diagnostics.push(
        diag('E_YAML_SYNTAX', {
          message: firstLine((e as Error).message),
          at: { file: path, line: 1, column: 1 },
          hint: 'aliases (*name) may not expand to more than 100 nodes; write the values out',
        }),
      );
    }
  }
  return { file: { path, text, doc, lines, ok, data: data ?? {} }, diagnostics };
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Where `path` is written in the file: the key (for map entries) or the value. Falls back to the
 * deepest existing ancestor, then to the file's start.
 */
export function locate(
  file: SourceFile,
  path: readonly PathSegment[],
  part: 'key' | 'value' = 'key',
): Location {
  let node: unknown = file.doc.contents;
  let best: Node | null = isNodeLike(node) ? node : null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) break;
      if (last && part === 'key' && isNodeLike(pair.key)) return at(file, pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else {
      break;
    }
    if (isNodeLike(node)) best = node;
    else break;
  }
  return best ? at(file, best) : { file: file.path, line: 1, column: 1 };
}

function isNodeLike(n: unknown): n is Node {
  return typeof n === 'object' && n !== null && 'range' in n && Array.isArray((n as Node).range);
}

function at(file: SourceFile, node: Node): Location {
  const offset = node.range?.[0] ?? 0;
  const pos = file.lines.linePos(offset);
  return { file: file.path, line: pos.line, column: pos.col };
}

/** Keys written in a map at `path`, with their own positions (for unknown-key reports). */
export function keysAt(file: SourceFile, path: readonly PathSegment[]): string[] {
  const node = path.length === 0 ? file.doc.contents : file.doc.getIn(path, true);
  if (!isMap(node)) return [];
  return node.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : []));
}
