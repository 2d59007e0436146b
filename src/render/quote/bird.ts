import { RenderRefusal, refuseControls } from './refusal.ts';

/**
 * BIRD 2 strings and symbols. The lexer (cf-lex.l) reads a string as `"[^"\n]*"`: no escapes, so
 * a double quote or a line break cannot be written and is refused.
 */
export function str(s: string): string {
  refuseControls('bird string', s);
  if (s.includes('"')) throw new RenderRefusal('bird string', s, 'a double quote cannot be escaped');
  return `"${s}"`;
}

/** A name usable as a bare BIRD symbol: `-` and `.` (and anything else) become `_`. */
export function symbol(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}
