import { Composer, type CST, type Document, LineCounter, Parser, YAMLParseError } from 'yaml';
import { type Diagnostic, diag, type Location } from '../diagnostics/index.ts';
import { parseFast } from './fast-yaml.ts';
import { findMisindent } from './indentation.ts';
import { LOAD_LIMITS } from './limits.ts';
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
 * and positions for the texts the fast reader accepts. Collections nested deeper than `maxDepth`
 * are an error (`E_LIMIT`) at the first one too deep, before anything recurses over them.
 */
export function parseSource(
  path: string,
  text: string,
  maxDepth: number = LOAD_LIMITS.depth,
): { file: SourceFile; diagnostics: Diagnostic[] } {
  const fast = parseFast(text, maxDepth);
  if (fast) {
    const file = { path, text, positions: fast.positions, lineStarts: lineStartsOf(text), ok: true };
    return { file: { ...file, data: fast.data ?? {} }, diagnostics: [] };
  }
  return parseWithLibrary(path, text, maxDepth);
}

function parseWithLibrary(
  path: string,
  text: string,
  maxDepth: number,
): { file: SourceFile; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  // The library's parser keeps a stack of its own; composing and converting recurse per level.
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const deep = tooDeep(tokens, maxDepth);
  if (deep !== undefined) {
    const pos = lines.linePos(deep);
    const diagnostics = [
      diag('E_LIMIT', {
        message: `collections nested more than ${maxDepth} deep`,
        at: { file: path, line: pos.line, column: pos.col },
        hint: 'intent nests a few levels deep: flatten the file',
      }),
    ];
    const file = { path, text, positions: undefined, lineStarts: lines.lineStarts, ok: false, data: {} };
    return { file, diagnostics };
  }
  const doc = composeOne(tokens, text.length);
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

/** What `parseDocument` does with the tokens: the first document; a second one is an error. */
function composeOne(tokens: readonly CST.Token[], length: number): Document.Parsed {
  const composer = new Composer({ prettyErrors: false, uniqueKeys: true });
  let doc: Document.Parsed | undefined;
  for (const d of composer.compose(tokens, true, length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(
        new YAMLParseError(
          d.range.slice(0, 2) as [number, number],
          'MULTIPLE_DOCS',
          'Source contains multiple documents',
        ),
      );
      break;
    }
  }
  return doc!;
}

/** The offset of the first collection nested deeper than `max`, walking the tokens without recursion. */
function tooDeep(tokens: readonly CST.Token[], max: number): number | undefined {
  const stack: { token: CST.Token; depth: number }[] = tokens.map((token) => ({ token, depth: 0 }));
  let first: number | undefined;
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push({ token: token.value, depth });
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth + 1 > max) {
        if (first === undefined || token.offset < first) first = token.offset;
        continue;
      }
      for (const item of token.items) {
        if (item.key) stack.push({ token: item.key, depth: depth + 1 });
        if (item.value) stack.push({ token: item.value, depth: depth + 1 });
      }
    }
  }
  return first;
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
