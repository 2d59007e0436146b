import { str } from '../quote/icinga2.ts';

export type IcingaValue = string | number | boolean | readonly string[];

/** An Icinga 2 literal: a quoted string, a number, a boolean or an array of strings. */
export function icingaValue(v: IcingaValue): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v.length === 0 ? '[]' : `[ ${v.map(str).join(', ')} ]`;
}

/**
 * A string that ends up in a check command line: Icinga expands `$name$` there, so a literal
 * dollar is doubled.
 */
export function macroText(s: string): string {
  return s.includes('$') ? s.replace(/\$/g, '$$$$') : s;
}
