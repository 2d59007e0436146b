import type { z } from 'zod';
import { type Code, type Diagnostic, diag } from '../diagnostics/index.ts';
import { locate, type PathSegment, type SourceFile } from '../load/index.ts';
import { closest } from '../vocabulary/strings.ts';
import { knownKeysAt } from './zod-walk.ts';

type Issue = z.core.$ZodIssue;

/**
 * Checks one parsed file against its schema. Returns the typed value when it conforms; every
 * problem becomes a diagnostic at the key or value it is about. When the only problems are unknown
 * keys, the value without them is returned too (beside their errors), so the later stages still
 * check the rest of the file in the same run: one typo does not hide every other finding.
 */
export function validateFile<T>(
  file: SourceFile,
  schema: z.ZodType<T>,
  what: string,
): { value: T | undefined; diagnostics: Diagnostic[] } {
  const data = file.data ?? {};
  const r = schema.safeParse(data);
  if (r.success) return { value: r.data, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  const unknown: PathSegment[][] = [];
  const seen = new Set<string>();
  for (const issue of r.error.issues) {
    for (const d of toDiagnostics(file, schema, issue, what, data, unknown)) {
      const key = `${d.code}:${d.line}:${d.column}`;
      if (!seen.has(key)) {
        seen.add(key);
        diagnostics.push(d);
      }
    }
  }
  if (!diagnostics.every((d) => d.code === 'E_UNKNOWN_KEY')) return { value: undefined, diagnostics };
  const rest = schema.safeParse(withoutKeys(data, unknown));
  return { value: rest.success ? rest.data : undefined, diagnostics };
}

/** `data` without the keys at `paths` (copies along the paths; the parsed data stays as it is). */
function withoutKeys(data: unknown, paths: readonly PathSegment[][]): unknown {
  let out = data;
  for (const path of paths) out = without(out, path);
  return out;
}

function without(v: unknown, path: readonly PathSegment[]): unknown {
  if (v === null || typeof v !== 'object' || path.length === 0) return v;
  const [head, ...tail] = path as [PathSegment, ...PathSegment[]];
  if (!Object.hasOwn(v, head)) return v;
  if (Array.isArray(v)) {
    const copy = [...v];
    copy[head as number] = without(v[head as number], tail);
    return copy;
  }
  // fromEntries defines own properties, so a key like `__proto__` stays a plain key.
  const entries = Object.entries(v);
  return Object.fromEntries(
    tail.length === 0
      ? entries.filter(([k]) => k !== String(head))
      : entries.map(([k, x]) => [k, k === String(head) ? without(x, tail) : x]),
  );
}

function toDiagnostics(
  file: SourceFile,
  schema: z.ZodType,
  issue: Issue,
  what: string,
  data: unknown,
  unknown: PathSegment[][],
): Diagnostic[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
  const dotted = path.join('.');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, path);
      return issue.keys.map((key) => {
        unknown.push([...path, key]);
        const suggestion = closest(key, known);
        return diag('E_UNKNOWN_KEY', {
          message: `unknown key \`${key}\`${dotted ? ` in \`${dotted}\`` : ''} of ${what}`,
          at: locate(file, [...path, key], 'key'),
          path: [...path, key].join('.'),
          hint: suggestion
            ? `did you mean \`${suggestion}\`?`
            : known.length
              ? `known keys: ${known.join(', ')}`
              : undefined,
        });
      });
    }
    case 'invalid_union': {
      // A branch that accepted the value's type holds the real complaint; report that one.
      const branches = issue.errors.filter(
        (errs) => !errs.some((e) => e.code === 'invalid_type' && e.path.length === 0),
      );
      if (branches.length > 0 && branches[0]) {
        return branches[0].flatMap((e) =>
          toDiagnostics(
            file,
            schema,
            { ...e, path: [...issue.path, ...e.path] } as Issue,
            what,
            data,
            unknown,
          ),
        );
      }
      return [
        typeDiag(file, path, dotted, `\`${dotted}\` has the wrong type (${describe(valueAt(data, path))})`),
      ];
    }
    case 'invalid_key': {
      // A record key (group, host or DNS name) that its own schema rejects: report at the key.
      const key = String(path[path.length - 1]);
      return issue.issues.map((inner) =>
        diag((inner.code === 'custom' && (inner.params as { code?: Code } | undefined)?.code) || 'E_TYPE', {
          message: `key \`${key}\`${path.length > 1 ? ` in \`${path.slice(0, -1).join('.')}\`` : ''}: ${inner.message}`,
          at: locate(file, path, 'key'),
          path: dotted,
        }),
      );
    }
    case 'custom': {
      const code = (issue.params as { code?: Code } | undefined)?.code ?? 'E_TYPE';
      return [
        diag(code, {
          message: `\`${dotted}\`: ${issue.message}`,
          at: locate(file, path, 'value'),
          path: dotted,
        }),
      ];
    }
    case 'invalid_type': {
      const actual = valueAt(data, path);
      if (actual === undefined) {
        return [
          diag('E_TYPE', {
            message: `\`${dotted}\` is required in ${what}`,
            at: locate(file, path.slice(0, -1), 'key'),
            path: dotted,
          }),
        ];
      }
      return [
        typeDiag(
          file,
          path,
          dotted,
          `${dotted ? `\`${dotted}\`` : what} must be ${article(issue.expected)}, not ${describe(actual)}`,
        ),
      ];
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const actual = valueAt(data, path);
      const suggestion = typeof actual === 'string' ? closest(actual, allowed) : undefined;
      return [
        diag('E_TYPE', {
          message: `\`${dotted}\` must be one of ${allowed.join(', ')}`,
          at: locate(file, path, 'value'),
          path: dotted,
          hint: suggestion ? `did you mean \`${suggestion}\`?` : undefined,
        }),
      ];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
      const unit = issue.origin === 'array' ? ' entries' : issue.origin === 'string' ? ' characters' : '';
      return [typeDiag(file, path, dotted, `\`${dotted}\` must be ${bound}${unit}`)];
    }
    default:
      return [typeDiag(file, path, dotted, `\`${dotted}\`: ${issue.message}`)];
  }
}

function typeDiag(file: SourceFile, path: PathSegment[], dotted: string, message: string): Diagnostic {
  return diag('E_TYPE', { message, at: locate(file, path, 'value'), path: dotted });
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PathSegment, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}

function article(expected: string): string {
  const words: Record<string, string> = {
    object: 'a map',
    record: 'a map',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
    int: 'a whole number',
  };
  return words[expected] ?? expected;
}
