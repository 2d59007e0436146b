import { LineCounter, parseDocument } from 'yaml';
import { type Diagnostic, diag, type Location } from '../diagnostics/index.ts';
import { parseFast } from './fast-yaml.ts';
import { findMisindent } from './indentation.ts';
import { linePos, lineStartsOf, type PosNode, positionsOf } from './positions.ts';

/** One parsed YAML file of the site, with what is needed to map a path back to file:line:column. */
export interface SourceFile {
  /** Site-relative path with `/`. */
  path: string;
  text: string;
  /** Where each node starts; undefined for an empty document. */
  positions: PosNode | undefined;
  /** Offsets where the text's lines start, for turning positions into line and column. */
  lineStarts: readonly number[];
  /** false when the file had YAML errors: later stages skip it. */
  ok: boolean;
  /** The file's value (`{}` for an empty file) when ok, else `{}`. */
  data: unknown;
}

export type PathSegment = string | number;

/**
 * Parses one file: by the fast reader when the text stays in its subset (nearly every intent
 * file), else by the `yaml` library, which also reports the syntax errors. Both give the same data
 * and positions for the texts the fast reader accepts.
 */
export function parseSource(path: string, text: string): { file: SourceFile; diagnostics: Diagnostic[] } {
  const fast = parseFast(text);
  if (fast) {
    const file = { path, text, positions: fast.positions, lineStarts: lineStartsOf(text), ok: true };
    return { file: { ...file, data: fast.data ?? {} }, diagnostics: [] };
  }
  return parseWithLibrary(path, text);
}

function parseWithLibrary(path: string, text: string): { file: SourceFile; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const diagnostics = syntaxDiagnostics(
    path,
    text,
    doc.errors.map((e) => ({ ...lines.linePos(e.pos[0]), message: e.message, code: e.code })),
  );
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
  const positions = positionsOf(doc.contents);
  return { file: { path, text, positions, lineStarts: lines.lineStarts, ok, data: data ?? {} }, diagnostics };
}

/**
 * The library's syntax errors as diagnostics, one per line (a mistake often draws two messages at
 * one place). A misindented key is named at its own line with its indentation, in place of what
 * the library says about the lines around it.
 */
function syntaxDiagnostics(
  path: string,
  text: string,
  errors: readonly { line: number; col: number; message: string; code: string }[],
): Diagnostic[] {
  let shown = errors;
  const out: Diagnostic[] = [];
  const m = errors.length > 0 ? findMisindent(text) : undefined;
  if (m) {
    const from = m.previous || m.line;
    const to = m.next || m.line;
    const near = (line: number) => line >= from && line <= to;
    if (errors.some((e) => near(e.line))) {
      shown = errors.filter((e) => !near(e.line));
      out.push(
        diag('E_YAML_SYNTAX', {
          message:
            m.kind === 'key'
              ? `the key \`${m.key}\` is not in line with the keys beside it`
              : 'this list item is not in line with the items beside it',
          at: { file: path, line: m.line, column: m.indent + 1 },
          hint: `indented ${m.indent} space${m.indent === 1 ? '' : 's'}, the ${m.kind === 'key' ? 'keys' : 'items'} beside it are at ${m.expected}`,
        }),
      );
    }
  }
  const lines = new Set(out.map((d) => d.line));
  for (const e of shown) {
    if (lines.has(e.line)) continue;
    lines.add(e.line);
    out.push(
      diag('E_YAML_SYNTAX', {
        message: firstLine(e.message),
        at: { file: path, line: e.line, column: e.col },
        hint: e.code === 'DUPLICATE_KEY' ? 'a key may appear once per map' : undefined,
      }),
    );
  }
  return out;
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
  let node = file.positions;
  let best = node;
  for (let i = 0; i < path.length && node !== undefined; i++) {
    const seg = path[i]!;
    if (node.kind === 'map') {
      const entry = node.entries.get(String(seg));
      if (!entry) break;
      if (i === path.length - 1 && part === 'key') return at(file, entry.key);
      node = entry.value;
    } else if (node.kind === 'seq' && typeof seg === 'number') {
      node = node.items[seg];
    } else {
      break;
    }
    if (node !== undefined) best = node;
  }
  return best ? at(file, best.at) : { file: file.path, line: 1, column: 1 };
}

function at(file: SourceFile, offset: number): Location {
  const pos = linePos(file.lineStarts, offset);
  return { file: file.path, line: pos.line, column: pos.col };
}
