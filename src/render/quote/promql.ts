import { refuseControls } from './refusal.ts';

/**
 * A PromQL string literal: double quotes, with backslash and double quote escaped (PromQL reads Go
 * escapes); control characters are refused.
 */
export function promString(s: string): string {
  refuseControls('PromQL string', s);
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A regular expression (RE2) that matches exactly one of `values`, for a `=~` matcher. */
export function promAlternatives(values: readonly string[]): string {
  const escaped = values.map((v) => v.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`));
  return promString(escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`);
}
