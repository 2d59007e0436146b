import { refuseUnless } from './refusal.ts';

/**
 * keepalived words. Its parser splits on white space, takes `#` and `!` as comment starts and
 * `{`/`}` as blocks, and has no escapes: anything outside a plain token is refused.
 */
export function word(s: string): string {
  return refuseUnless('keepalived word', s, /^[A-Za-z0-9_.:/@%+=,-]+$/, 'not a plain token');
}

/** A quoted string (a script line): words of our own separated by spaces, each a plain token. */
export function script(words: readonly string[]): string {
  return `"${words.map(word).join(' ')}"`;
}
