import type { z } from 'zod';

type Def = { type: string; [k: string]: unknown };

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** Unwraps optional/nullable/default/lazy/pipe wrappers. */
function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    if (!d) return s;
    if (d.type === 'optional' || d.type === 'nullable' || d.type === 'default' || d.type === 'readonly')
      s = d.innerType;
    else if (d.type === 'lazy') s = (d.getter as () => unknown)();
    else if (d.type === 'pipe') s = d.in;
    else return s;
  }
  return s;
}

/** The sub-schemas that may stand at `path` inside `schema` (unions give several). */
export function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): unknown[] {
  let current: unknown[] = [schema];
  for (const seg of path) {
    const next: unknown[] = [];
    for (const s of current) next.push(...childSchemas(unwrap(s), seg));
    current = next;
  }
  return current.flatMap((s) => {
    const u = unwrap(s);
    const d = defOf(u);
    return d?.type === 'union' ? (d.options as unknown[]).map(unwrap) : [u];
  });
}

function childSchemas(s: unknown, seg: PropertyKey): unknown[] {
  const d = defOf(s);
  if (!d) return [];
  switch (d.type) {
    case 'object': {
      const shape = d.shape as Record<string, unknown>;
      return typeof seg === 'string' && seg in shape ? [shape[seg]] : [];
    }
    case 'array':
      return typeof seg === 'number' ? [d.element] : [];
    case 'record':
      return [d.valueType];
    case 'union':
      return (d.options as unknown[]).flatMap((o) => childSchemas(unwrap(o), seg));
    default:
      return [];
  }
}

/** Keys an object schema at `path` accepts (for "did you mean" hints). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const d = defOf(s);
    if (d?.type === 'object') for (const k of Object.keys(d.shape as object)) keys.add(k);
  }
  return [...keys].sort();
}
