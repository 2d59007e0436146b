import { oneLine, RenderRefusal, refuseControls, refuseUnless } from './refusal.ts';

/**
 * HAProxy configuration words (configuration.txt 2.2 "Quoting and escaping"). Arguments are
 * strongly quoted: nothing is interpreted inside single quotes (no `$` expansion, no backslash
 * escapes); a single quote is written by closing the quote, `\'`, and opening it again. Line breaks
 * have no strongly quoted form, so they are refused.
 */

/** Proxy, server and cookie names: HAProxy's own identifier characters, bare. */
const WORD = /^[A-Za-z0-9_.:-]+$/;
/** Arguments that need no quotes at all (kept bare so generated files stay readable). */
const BARE = /^[A-Za-z0-9_./:@+=,~?&*%-]+$/;

/** A proxy, server, ACL or cookie name: letters, digits, `_ . : -`; anything else is refused. */
export function word(s: string): string {
  return refuseUnless('haproxy name', s, WORD, 'not letters, digits, `_ . : -`');
}

/** Any string as one argument: bare when safe, else strongly quoted. */
export function arg(s: string): string {
  refuseControls('haproxy argument', s);
  return BARE.test(s) && !s.startsWith('-') ? s : strong(s);
}

/** Free display text (a description) as one strongly quoted argument, on one line. */
export function text(s: string): string {
  return strong(oneLine(s));
}

/**
 * A literal in a log-format argument (redirect location, header values; configuration.txt 8.2.4):
 * HAProxy evaluates `%[...]`, `%{...}` and `%x` there, so every `%` is doubled and the text stays
 * what the team wrote (`%20` in a URL stays `%20` on the wire).
 */
export function literal(s: string): string {
  return s.replace(/%/g, '%%');
}

/** A log-format argument made of a literal (escaped here) followed by `fmt`, our own format. */
export function logFormat(team: string, fmt = ''): string {
  return arg(literal(team) + fmt);
}

/**
 * A pattern of an anonymous ACL (`{ path_beg <pattern> }`): a leading `-` would read as a flag and
 * a lone `}` would end the braces, so those are refused rather than quoted.
 */
export function pattern(s: string): string {
  if (s.startsWith('-') || s === '}' || s === '{')
    throw new RenderRefusal('haproxy ACL pattern', s, 'reads as a flag or a brace');
  return arg(s);
}

function strong(s: string): string {
  refuseControls('haproxy argument', s);
  return `'${s.replace(/'/g, "'\\''")}'`;
}
