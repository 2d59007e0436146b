/**
 * A small YAML emitter for generated files: maps, lists and scalars in block style. Strings are
 * written as JSON strings (valid YAML double-quoted scalars) unless plainly safe. Much faster than
 * a general YAML library on large generated documents, and just as deterministic.
 */
import { Lines } from './lines.ts';

export type YamlValue =
  | string
  | number
  | boolean
  | null
  | YamlValue[]
  | { [k: string]: YamlValue | undefined };

const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./:@-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;
/**
 * What a YAML 1.1 or 1.2 reader takes for a number, not a string: digits and dots (addresses),
 * decimal ints and floats with exponents and underscores (`0e0`, `1_000`), hex, octal, binary,
 * sexagesimal (`1:20`), `.inf` and `.nan`.
 */
const NUMERIC =
  /^(?:[\d.]+|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[-+]?\.(?:inf|nan))$/i;

function scalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v !== 'string') return String(v);
  return PLAIN.test(v) && !RESERVED.test(v) && !NUMERIC.test(v) && !v.endsWith(':') ? v : JSON.stringify(v);
}

function isScalar(v: YamlValue): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

export function emitYaml(value: YamlValue, indent = ''): string {
  const out = new Lines();
  emit(value, indent, indent, out);
  return out.text();
}

/**
 * Writes `v` at `indent`; its first line starts with `lead` instead (`- ` of a list item whose
 * entries follow on the same line).
 */
function emit(v: YamlValue, indent: string, lead: string, out: Lines): void {
  if (Array.isArray(v)) {
    const inner = `${indent}  `;
    let at = lead;
    for (const item of v) {
      if (isScalar(item)) out.push(`${at}- ${scalar(item)}`);
      else if (Array.isArray(item) && item.length === 0) out.push(`${at}- []`);
      else if (Array.isArray(item)) {
        out.push(`${at}-`);
        emit(item, inner, inner, out);
      } else {
        const start = out.count;
        emit(item, inner, `${at}- `, out);
        if (out.count === start) out.push(`${at}- {}`);
      }
      at = indent;
    }
    return;
  }
  if (isScalar(v)) {
    out.push(`${lead}${scalar(v)}`);
    return;
  }
  let first = lead;
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === undefined) continue;
    if (isScalar(x)) out.push(`${first}${k}: ${scalar(x)}`);
    else if (Array.isArray(x) && x.length === 0) out.push(`${first}${k}: []`);
    else if (!Array.isArray(x) && Object.keys(x).length === 0) out.push(`${first}${k}: {}`);
    else {
      out.push(`${first}${k}:`);
      const inner = `${indent}  `;
      emit(x, inner, inner, out);
    }
    first = indent;
  }
}
