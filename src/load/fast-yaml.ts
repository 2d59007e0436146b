import { Document, isScalar, type ScalarTag } from 'yaml';
import { LOAD_LIMITS } from './limits.ts';
import type { PosEntry, PosNode } from './positions.ts';

/**
 * A reader for the plain subset of YAML that intent files are written in: block maps and lists,
 * one-line flow collections, one-line plain and quoted scalars, comments. It is an order of
 * magnitude faster than composing a `yaml` Document, which dominated `check` on large sites.
 *
 * Anything outside the subset — anchors, aliases, tags, block scalars, multi-line scalars, quoted
 * or complex keys, escapes, empty values, duplicate keys, tabs, CR, document markers, a root that
 * is not a map — makes it give up (undefined), and the caller parses the file with the library.
 * For every text it accepts it returns what the library returns: the same data (the core schema's
 * own tags resolve plain scalars) and the same node positions. test/load/fast-yaml.test.ts holds it
 * to that against the library on generated and mutated documents. Collections nested deeper than
 * `maxDepth` make it give up before its recursion gets deep; the library path reports them.
 */
export function parseFast(
  text: string,
  maxDepth: number = LOAD_LIMITS.depth,
): { data: unknown; positions: PosNode | undefined } | undefined {
  if (OUTSIDE_TEXT.test(text)) return undefined;
  try {
    return new Reader(text, maxDepth).document();
  } catch (e) {
    if (e instanceof OutsideSubset) return undefined;
    throw e;
  }
}

/** Characters and line openings the reader leaves to the library (tabs, CR, controls, BOM, markers). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const OUTSIDE_TEXT = /[\0-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]|^(?:---|\.\.\.|%)/m;

/** Thrown inside the reader when the text leaves the subset; never escapes `parseFast`. */
class OutsideSubset extends Error {}

const DEFAULTS = new Document();
/** The core schema's implicit scalar tags (null, bool, int, float), in the order the library tries them. */
const PLAIN_TAGS = DEFAULTS.schema.tags.filter(
  (t): t is ScalarTag & { test: RegExp } => t.default === true && t.test instanceof RegExp,
);

/** An implicit key this reader accepts, with its `:`; the key must also resolve to a string. */
const KEY = /[A-Za-z0-9_][A-Za-z0-9_./+-]*:(?=[ \n]|$)/y;
/** Characters that may not start a plain scalar (YAML indicators), `-` aside. */
const NOT_PLAIN_START = new Set([...',[]{}#&*!|>\'"%@`?: ']);
const FLOW_END = new Set([',', ']', '}']);

type Parsed = { value: unknown; pos: PosNode };
/** A block collection and the start of the first line it did not consume (-1 at the end). */
type Block = Parsed & { next: number };
/** An inline value and the offset just after it. */
type Inline = Parsed & { end: number };

class Reader {
  private depth = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  /** Reads one collection one level deeper; past the limit the library takes over (and reports it). */
  private nested<T>(read: () => T): T {
    if (++this.depth > this.maxDepth) giveUp();
    const r = read();
    this.depth--;
    return r;
  }

  document(): { data: unknown; positions: PosNode | undefined } {
    const first = this.contentLine(0);
    if (first === -1) return { data: null, positions: undefined };
    if (this.indent(first) !== 0 || !this.isKey(first)) giveUp();
    const root = this.nested(() => this.blockMap(first, 0));
    if (root.next !== -1) giveUp();
    return { data: root.value, positions: root.pos };
  }

  /** A block map whose keys stand at column `col`; the first key starts at `start`. */
  private blockMap(start: number, col: number): Block {
    const data: Record<string, unknown> = {};
    const entries = new Map<string, PosEntry>();
    let at = start;
    for (;;) {
      const key = this.key(at);
      if (entries.has(key)) giveUp();
      const afterColon = at + key.length + 1;
      const v = this.skipSpaces(afterColon);
      const r =
        this.atLineEnd(v) || (this.s[v] === '#' && v > afterColon)
          ? this.valueBelow(this.lineAfter(v), col)
          : this.inlineLast(v, col);
      setKey(data, key, r.value);
      entries.set(key, { key: at, value: r.pos });
      if (r.next === -1) return { value: data, pos: { kind: 'map', at: start, entries }, next: -1 };
      const indent = this.indent(r.next);
      if (indent < col) return { value: data, pos: { kind: 'map', at: start, entries }, next: r.next };
      if (indent > col) giveUp();
      at = r.next + indent;
    }
  }

  /** A block list whose `-` stand at column `col`; the first one is at `start`. */
  private blockSeq(start: number, col: number): Block {
    const items: unknown[] = [];
    const pos: (PosNode | undefined)[] = [];
    let at = start;
    for (;;) {
      if (this.s[at + 1] !== ' ') giveUp(); // `-` alone: the item is on the next lines
      const v = this.skipSpaces(at + 1);
      if (this.atLineEnd(v) || this.s[v] === '#' || this.isDash(v)) giveUp();
      const r = this.isKey(v) ? this.nested(() => this.blockMap(v, col + (v - at))) : this.inlineLast(v, col);
      items.push(r.value);
      pos.push(r.pos);
      const done = { value: items, pos: { kind: 'seq', at: start, items: pos } as const, next: r.next };
      if (r.next === -1) return done;
      const indent = this.indent(r.next);
      if (indent < col) return done;
      if (indent > col) giveUp();
      // A key at the list's own column ends a list written flush under its parent key.
      if (!this.isDash(r.next + indent)) return done;
      at = r.next + indent;
    }
  }

  /**
   * The value of a key whose line ends after the colon: a block collection or a flow collection
   * on the following lines. A list may stand at the key's own column; anything else is deeper.
   */
  private valueBelow(line: number, col: number): Block {
    const first = line === -1 ? -1 : this.contentLine(line);
    if (first === -1) giveUp(); // an empty value (null)
    const indent = this.indent(first);
    const at = first + indent;
    if (indent === col && this.isDash(at)) return this.nested(() => this.blockSeq(at, indent));
    if (indent <= col) giveUp();
    if (this.isDash(at)) return this.nested(() => this.blockSeq(at, indent));
    if (this.isKey(at)) return this.nested(() => this.blockMap(at, indent));
    if (this.s[at] !== '{' && this.s[at] !== '[') giveUp(); // a scalar may go on over lines
    return this.inlineLast(at, col);
  }

  /** An inline value that ends its line; no deeper line may follow (it would continue the value). */
  private inlineLast(at: number, col: number): Block {
    const r = this.inline(at, false);
    const rest = this.skipSpaces(r.end);
    if (this.s[rest] === '#' && rest === r.end) giveUp();
    if (!this.atLineEnd(rest) && this.s[rest] !== '#') giveUp();
    const next = this.contentLine(this.lineAfter(rest));
    if (next !== -1 && this.indent(next) > col) giveUp();
    return { value: r.value, pos: r.pos, next };
  }

  private inline(at: number, flow: boolean): Inline {
    const c = this.s[at];
    if (c === '{') return this.nested(() => this.flowMap(at));
    if (c === '[') return this.nested(() => this.flowSeq(at));
    if (c === '"') return this.doubleQuoted(at);
    if (c === "'") return this.singleQuoted(at);
    return this.plain(at, flow);
  }

  private flowMap(start: number): Inline {
    const data: Record<string, unknown> = {};
    const entries = new Map<string, PosEntry>();
    let at = this.skipSpaces(start + 1);
    if (this.s[at] !== '}') {
      for (;;) {
        const key = this.key(at);
        if (entries.has(key)) giveUp();
        const v = this.skipSpaces(at + key.length + 1);
        if (this.atLineEnd(v) || FLOW_END.has(this.s[v]!)) giveUp();
        const r = this.inline(v, true);
        setKey(data, key, r.value);
        entries.set(key, { key: at, value: r.pos });
        at = this.skipSpaces(r.end);
        if (this.s[at] === '}') break;
        if (this.s[at] !== ',') giveUp();
        at = this.skipSpaces(at + 1);
        if (this.s[at] === '}') giveUp(); // a trailing comma
      }
    }
    return { value: data, pos: { kind: 'map', at: start, entries }, end: at + 1 };
  }

  private flowSeq(start: number): Inline {
    const items: unknown[] = [];
    const pos: (PosNode | undefined)[] = [];
    let at = this.skipSpaces(start + 1);
    if (this.s[at] !== ']') {
      for (;;) {
        if (this.atLineEnd(at) || FLOW_END.has(this.s[at]!)) giveUp();
        const r = this.inline(at, true);
        items.push(r.value);
        pos.push(r.pos);
        at = this.skipSpaces(r.end);
        if (this.s[at] === ']') break;
        if (this.s[at] !== ',') giveUp();
        at = this.skipSpaces(at + 1);
        if (this.s[at] === ']') giveUp(); // a trailing comma
      }
    }
    return { value: items, pos: { kind: 'seq', at: start, items: pos }, end: at + 1 };
  }

  /** A one-line double-quoted scalar without escapes. */
  private doubleQuoted(start: number): Inline {
    const close = this.s.indexOf('"', start + 1);
    if (close === -1) giveUp();
    const value = this.s.slice(start + 1, close);
    if (value.includes('\\') || value.includes('\n')) giveUp();
    return { value, pos: { kind: 'leaf', at: start }, end: close + 1 };
  }

  /** A one-line single-quoted scalar; `''` stands for one quote. */
  private singleQuoted(start: number): Inline {
    let value = '';
    let from = start + 1;
    for (;;) {
      const q = this.s.indexOf("'", from);
      if (q === -1) giveUp();
      value += this.s.slice(from, q);
      if (this.s[q + 1] !== "'") {
        if (value.includes('\n')) giveUp();
        return { value, pos: { kind: 'leaf', at: start }, end: q + 1 };
      }
      value += "'";
      from = q + 2;
    }
  }

  /**
   * A one-line plain scalar, ending at a comment, the line end, or (in a flow collection) at `,`
   * `]` `}`. A `: ` inside would make it a key, a `[` or `{` inside a flow collection an error.
   */
  private plain(start: number, flow: boolean): Inline {
    const s = this.s;
    const c = s[start]!;
    if (NOT_PLAIN_START.has(c)) giveUp();
    if (
      c === '-' &&
      (this.atLineEnd(start + 1) || s[start + 1] === ' ' || (flow && FLOW_END.has(s[start + 1]!)))
    )
      giveUp();
    let end = start;
    for (; end < s.length; end++) {
      const ch = s[end]!;
      if (ch === '\n' || (ch === '#' && s[end - 1] === ' ')) break;
      if (flow && FLOW_END.has(ch)) break;
      if (flow && (ch === '[' || ch === '{')) giveUp();
      if (ch === ':') {
        const next = s[end + 1];
        if (next === undefined || next === ' ' || next === '\n' || (flow && FLOW_END.has(next))) giveUp();
      }
    }
    while (s[end - 1] === ' ') end--;
    return { value: resolvePlain(s.slice(start, end)), pos: { kind: 'leaf', at: start }, end };
  }

  /** The implicit key at `at` (without its colon); it must read as a string in the core schema. */
  private key(at: number): string {
    KEY.lastIndex = at;
    const m = KEY.exec(this.s);
    if (m === null) giveUp();
    const key = m[0].slice(0, -1);
    if (key.length > 1000 || PLAIN_TAGS.some((t) => t.test.test(key))) giveUp();
    return key;
  }

  private isKey(at: number): boolean {
    KEY.lastIndex = at;
    return KEY.test(this.s);
  }

  private isDash(at: number): boolean {
    return this.s[at] === '-' && (this.atLineEnd(at + 1) || this.s[at + 1] === ' ');
  }

  private atLineEnd(at: number): boolean {
    return at >= this.s.length || this.s[at] === '\n';
  }

  private skipSpaces(at: number): number {
    while (this.s[at] === ' ') at++;
    return at;
  }

  /** Start of the line after the one holding `at`, or -1 at the end of the text. */
  private lineAfter(at: number): number {
    const nl = this.s.indexOf('\n', at);
    return nl === -1 ? -1 : nl + 1;
  }

  /** Start of the first line from `line` on with content (not blank, not only a comment), or -1. */
  private contentLine(line: number): number {
    for (let at = line; at !== -1; at = this.lineAfter(at)) {
      const c = this.skipSpaces(at);
      if (!this.atLineEnd(c) && this.s[c] !== '#') return at;
      if (c >= this.s.length) return -1;
    }
    return -1;
  }

  private indent(line: number): number {
    return this.skipSpaces(line) - line;
  }
}

/** A plain scalar's value: the first core-schema tag whose pattern matches it, else the string. */
function resolvePlain(text: string): unknown {
  for (const tag of PLAIN_TAGS) {
    if (!tag.test.test(text)) continue;
    const r = tag.resolve(text, giveUp, DEFAULTS.options);
    return isScalar(r) ? r.value : r;
  }
  return text;
}

/** Leaves the text to the library. */
function giveUp(): never {
  throw new OutsideSubset();
}

/**
 * Sets a key the way the library's `toJS` does: a key that an object already has by inheritance
 * (`constructor`, `__proto__`) becomes an own property instead of touching the prototype.
 */
function setKey(data: Record<string, unknown>, key: string, value: unknown): void {
  if (key in data)
    Object.defineProperty(data, key, { value, writable: true, enumerable: true, configurable: true });
  else data[key] = value;
}
