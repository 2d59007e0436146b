import { birdSymbol } from '../../vocabulary/names.ts';
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

/**
 * A name as the tail of a BIRD symbol (every use has a prefix: `vip_`, `vip6_`, `bgp_`): `-` and
 * `.` become `_` (the name grammar's mapping, which check uses to find collisions). Longer than
 * the grammar's 59 characters would overflow BIRD's 64-character symbols with a prefix: refused.
 */
export function symbol(name: string): string {
  const s = birdSymbol(name);
  if (s.length === 0 || s.length > 59)
    throw new RenderRefusal(
      'bird symbol',
      name,
      'a symbol tail is 1 to 59 characters (BIRD symbols stop at 64)',
    );
  return s;
}
