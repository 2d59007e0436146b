/**
 * Characters a terminal may act on instead of showing: C0/C1 controls and DEL (ESC starts escape
 * sequences, CR and BS overwrite what was printed), format characters (bidi overrides and
 * isolates, zero-width spaces and joiners, the BOM, tag characters), line and paragraph
 * separators, lone surrogates and non-characters. Text from a site's files (names, values, file
 * names, tool output quoting them) passes through `visible` before it reaches a terminal, so a
 * hostile file cannot rewrite or hide what the reviewer reads.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Noncharacter_Code_Point}]/gu;

/** `\x1b`, `\u202e`, `\u{e0041}`: how an unsafe character is shown. */
export function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}

/**
 * `text` with every character a terminal could act on written out as an escape (`\x1b`,
 * `\u202e`). Tabs stay; line feeds stay when `multiline` (tool output, diffs), else they are
 * escaped too (one-line fields: names, messages, hints).
 */
export function visible(text: string, opts: { multiline?: boolean } = {}): string {
  return text.replace(UNSAFE, (ch) => (ch === '\t' || (ch === '\n' && opts.multiline) ? ch : escapeChar(ch)));
}

/**
 * JSON text whose strings carry no raw unsafe character: `JSON.stringify` escapes C0 controls
 * and lone surrogates but leaves DEL, C1 controls, bidi and zero-width characters, U+2028/U+2029
 * and non-characters as they are. Each becomes a `\uXXXX` escape (a pair for astral ones): the same
 * JSON value, safe to print.
 */
export function safeJson(value: unknown, indent = 2): string {
  // Raw line feeds in JSON text are the indentation's own (a string's are escaped already).
  return JSON.stringify(value, null, indent).replace(UNSAFE, (ch) => {
    if (ch === '\n') return ch;
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
