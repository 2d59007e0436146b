/** `lab up --backends builtin | real | real:<protocol>,...`: which protocols Debian's daemons serve. */
import { REAL_PROTOCOLS, type RealProtocol } from './types.ts';

/** The option's values, for --help. */
export const BACKENDS_HELP = `builtin (the default), real (Debian's daemons for ${REAL_PROTOCOLS.join(', ')}), or real:<protocol>,... (those only)`;

/** The protocols to serve with real daemons (none: `builtin`), or what is wrong with the text. */
export function parseBackends(text: string): RealProtocol[] | { error: string } {
  if (text === 'builtin') return [];
  if (text === 'real') return [...REAL_PROTOCOLS];
  const m = /^real:(.+)$/.exec(text);
  if (m === null) return { error: `--backends "${text}": expected ${BACKENDS_HELP}` };
  const asked = m[1]!.split(',');
  const unknown = asked.filter((p) => !(REAL_PROTOCOLS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    return {
      error: `--backends: no real daemon for ${unknown.map((p) => `"${p}"`).join(', ')} (real ones: ${REAL_PROTOCOLS.join(', ')})`,
    };
  }
  return REAL_PROTOCOLS.filter((p) => asked.includes(p));
}
