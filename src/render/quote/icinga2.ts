import { RenderRefusal, refuseControls, replaceControls } from './refusal.ts';

/**
 * Icinga 2 strings: the lexer reads `\"`, `\\`, `\n`, `\t`, `\r` escapes inside double quotes, so
 * those characters are escaped; other control characters are refused.
 */
export function str(s: string): string {
  const escaped = s.replace(/[\\"\n\t\r]/g, (c) => ESCAPES[c]!);
  refuseControls('icinga2 string', escaped);
  return `"${escaped}"`;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/**
 * An object name: a string without `!` (Icinga joins host and service names with it) and without
 * control characters.
 */
export function objectName(s: string): string {
  refuseControls('icinga2 object name', s);
  if (s === '' || s.includes('!')) throw new RenderRefusal('icinga2 object name', s, 'empty or holds `!`');
  return str(s);
}

/**
 * Free display text (notes): kept on several lines (`\n` escapes), every other control character
 * and line separator becomes a space.
 */
export function text(s: string): string {
  return str(replaceControls(s, ' ', '\n\t'));
}
