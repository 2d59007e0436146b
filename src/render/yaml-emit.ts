/**
 * A small YAML emitter for generated files: maps, lists and scalars in block style. Strings are
 * written as JSON strings (valid YAML double-quoted scalars) unless plainly safe. Much faster than
 * a general YAML library on large generated documents, and just as deterministic.
 */
export type YamlValue =
  | string
  | number
  | boolean
  | null
  | YamlValue[]
  | { [k: string]: YamlValue | undefined };

const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./:@-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v !== 'string') return String(v);
  return PLAIN.test(v) && !RESERVED.test(v) && !/^[\d.]+$/.test(v) && !v.endsWith(':')
    ? v
    : JSON.stringify(v);
}

function isScalar(v: YamlValue): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}

export function emitYaml(value: YamlValue, indent = ''): string {
  const out: string[] = [];
  emit(value, indent, out);
  return `${out.join('\n')}\n`;
}

function emit(v: YamlValue, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isScalar(item)) out.push(`${indent}- ${scalar(item)}`);
      else if (Array.isArray(item) && item.length === 0) out.push(`${indent}- []`);
      else if (Array.isArray(item)) {
        out.push(`${indent}-`);
        emit(item, `${indent}  `, out);
      } else {
        const start = out.length;
        emit(item, `${indent}  `, out);
        if (out.length > start) out[start] = `${indent}- ${out[start]!.slice(indent.length + 2)}`;
        else out.push(`${indent}- {}`);
      }
    }
    return;
  }
  if (isScalar(v)) {
    out.push(`${indent}${scalar(v)}`);
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    if (isScalar(x)) out.push(`${indent}${k}: ${scalar(x)}`);
    else if (Array.isArray(x) && x.length === 0) out.push(`${indent}${k}: []`);
    else if (!Array.isArray(x) && Object.keys(x).length === 0) out.push(`${indent}${k}: {}`);
    else {
      out.push(`${indent}${k}:`);
      emit(x, `${indent}  `, out);
    }
  }
}
