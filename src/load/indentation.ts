/**
 * Finds the first misindented line of a block-style YAML text: a key or list item deeper than the
 * line before it allows (under a key that already has its value), or between two levels that are
 * open. The `yaml` library reports such a line as a consequence at another place (the value of the
 * line before: "Nested mappings are not allowed in compact mappings", "Implicit keys need to be on
 * a single line") or as "All mapping items must start at the same column"; this names the line and
 * the indentation it should have.
 *
 * It reads lines, not YAML: it gives up (undefined) on what it cannot follow line by line
 * (multi-line flow collections and quoted scalars, document markers, tabs in the indentation), and
 * its answer is used only beside a syntax error the library reported near that line.
 */
export interface Misindent {
  /** 1-based line of the misindented key or item. */
  line: number;
  /** Spaces before it. */
  indent: number;
  /** The indentation of the keys (or items) beside it. */
  expected: number;
  /** The 1-based line of the content line before it (0 when it is the first). */
  previous: number;
  /** The 1-based line of the content line after it (0 when it is the last). */
  next: number;
  kind: 'key' | 'item';
  /** The key's text, for a key. */
  key?: string;
}

interface Level {
  indent: number;
  kind: 'map' | 'seq';
}

/** A key and its `:` at the start of `s` (plain or quoted, as written in intent files). */
const KEY = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},&*!|>%@`?:-][^#]*?|-[^\s#]*?)\s*:(?=\s|$)/;
const BLOCK_SCALAR = /^[|>][-+0-9]*\s*(?:#.*)?$/;

type State = 'open' | 'closed';

export function findMisindent(text: string): Misindent | undefined {
  const lines = text.split('\n');
  const levels: Level[] = [];
  /** What the content line before allows: `open` (a key without value, `-` alone), `closed`. */
  let state: State = 'open';
  let prev = 0;
  let found: Misindent | undefined;
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!.replace(/\r$/, '');
    const indent = raw.length - raw.trimStart().length;
    const content = raw.slice(indent);
    if (content === '' || content.startsWith('#')) continue;
    if (found) {
      found.next = n + 1;
      return found;
    }
    if (raw.slice(0, indent).includes('\t') || /^(?:---|\.\.\.)(?:\s|$)/.test(raw)) return undefined;
    const isItem = /^-(?:\s|$)/.test(content);
    const keyMatch = isItem ? null : KEY.exec(content);
    const top = levels.at(-1);
    const misindent = (expected: number): Misindent => ({
      line: n + 1,
      indent,
      expected,
      previous: prev,
      next: 0,
      kind: isItem ? 'item' : 'key',
      ...(keyMatch && { key: keyMatch[0].replace(/\s*:$/, '') }),
    });

    if (top === undefined) {
      if (indent > 0 && (isItem || keyMatch)) {
        found = misindent(0);
        continue;
      }
      levels.push({ indent, kind: isItem ? 'seq' : 'map' });
    } else if (indent > top.indent) {
      if (state === 'closed') {
        // A deeper line under a complete value: a misplaced key or item, or the value going on.
        if (isItem || keyMatch) {
          found = misindent(top.indent);
          continue;
        }
        prev = n + 1;
        continue;
      }
      levels.push({ indent, kind: isItem ? 'seq' : 'map' });
    } else {
      let popped: Level | undefined;
      while ((levels.at(-1)?.indent ?? -1) > indent) popped = levels.pop();
      let at = levels.at(-1);
      // A list written flush under its key ends at the next key of that map.
      if (at && at.indent === indent && at.kind === 'seq' && !isItem) {
        levels.pop();
        at = levels.at(-1);
      }
      if (at === undefined || at.indent !== indent) {
        const around = [popped?.indent, at?.indent].filter((x): x is number => x !== undefined);
        const nearest = around.sort((a, b) => Math.abs(a - indent) - Math.abs(b - indent))[0] ?? 0;
        if (isItem || keyMatch) {
          found = misindent(nearest);
          continue;
        }
        return undefined;
      }
      if (isItem && at.kind === 'map') {
        // A list flush under the key before it.
        if (state !== 'open') return undefined;
        levels.push({ indent, kind: 'seq' });
      }
    }
    prev = n + 1;
    const next = afterLine(content, isItem, indent, levels);
    if (next === undefined) return undefined;
    state = next.state;
    if (next.blockScalar) {
      // Skip the block scalar's lines: blank or deeper than the key that holds it.
      const keyIndent = levels.at(-1)!.indent;
      while (n + 1 < lines.length) {
        const l = lines[n + 1]!.replace(/\r$/, '');
        if (l.trim() !== '' && l.length - l.trimStart().length <= keyIndent) break;
        n++;
      }
      state = 'closed';
    }
  }
  return found;
}

/** The state after a line's content; pushes the map level a `- key: value` item opens. */
function afterLine(
  content: string,
  isItem: boolean,
  indent: number,
  levels: Level[],
): { state: State; blockScalar: boolean } | undefined {
  let rest = content;
  let col = indent;
  if (isItem) {
    const after = rest.slice(1);
    const spaces = after.length - after.trimStart().length;
    rest = after.trimStart();
    col += 1 + spaces;
    if (rest === '' || rest.startsWith('#')) return { state: 'open', blockScalar: false };
    if (/^-(?:\s|$)/.test(rest)) return undefined; // `- - x`: nested lists on one line
    const key = KEY.exec(rest);
    if (!key) return valueState(rest);
    levels.push({ indent: col, kind: 'map' });
    return valueState(rest.slice(key[0].length).trimStart());
  }
  const key = KEY.exec(rest);
  if (!key) return undefined; // a bare scalar at a key's place: not followed line by line
  return valueState(rest.slice(key[0].length).trimStart());
}

function valueState(value: string): { state: State; blockScalar: boolean } | undefined {
  if (value === '' || value.startsWith('#')) return { state: 'open', blockScalar: false };
  if (BLOCK_SCALAR.test(value)) return { state: 'closed', blockScalar: true };
  // An anchor or tag alone: the value follows on the next lines.
  if (/^[&!][^\s]*\s*(?:#.*)?$/.test(value)) return { state: 'open', blockScalar: false };
  if (!balanced(value)) return undefined;
  return { state: 'closed', blockScalar: false };
}

/** Whether a one-line value closes its quotes and brackets (else it goes on over lines). */
function balanced(value: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) {
        if (quote === "'" && value[i + 1] === "'") i++;
        else quote = undefined;
      }
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(value[i - 1]!))) quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === '#' && (i === 0 || value[i - 1] === ' ')) break;
  }
  return quote === undefined && depth <= 0;
}
