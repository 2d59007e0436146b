import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schema `intentlb schema` prints (the subset zod's
 * `toJSONSchema` emits for our intent files): object/properties/required/additionalProperties,
 * string with pattern/minLength/maxLength/enum, integer/number with minimum/maximum/exclusive*,
 * array/items/minItems/maxItems, anyOf/oneOf, const, boolean. Values lean on boundaries: the
 * limits themselves, 0, 1, huge numbers, every duration unit, empty and long strings, as far
 * as the schema allows them (a value it rejects cannot break "check passes ⇒ build passes"). A keyword outside
 * the subset throws, so a schema change cannot quietly make the generator test less.
 */

export type JsonSchema = { [k: string]: unknown };

/** A property path from the schema's root; array items appear as `*`. */
export type SchemaPath = readonly string[];

export interface ArbitraryOptions {
  /**
   * A generator of this test's own for a path (addresses from the site's pools, its groups...):
   * refinements such as "a strictly written IPv4 address" are not in the JSON Schema. `undefined`:
   * generate from the schema. `fromSchema` is the schema's own generator for the path, to mix in.
   */
  override?: (path: SchemaPath, fromSchema: fc.Arbitrary<unknown>) => fc.Arbitrary<unknown> | undefined;
  /** How likely an optional property is present (default 0.5); a function decides per path. */
  presence?: number | ((path: SchemaPath) => number | undefined);
}

const KNOWN = new Set([
  '$schema',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'anyOf',
  'oneOf',
]);

/** Strings that sit on a boundary of some grammar: durations of every unit, digits, lengths. */
export const EDGE_STRINGS: readonly string[] = [
  '',
  ' ',
  '0',
  '1',
  '0ms',
  '1us',
  '999us',
  '1000us',
  '1ms',
  '1s',
  '1m',
  '1h',
  '1d',
  '24d',
  '25d',
  '2147483s',
  '2147484s',
  '35791m',
  '596h',
  '597h',
  '2147483647',
  '2147483648',
  '2147483647ms',
  '2147483648ms',
  '4294967296',
  '99999999999999999999999999999999999ms',
  '100000000000000000000000000000000000',
  '01s',
  '1.5s',
  '-1s',
  '1S',
  '1 s',
  'x'.repeat(63),
  'x'.repeat(64),
  'x'.repeat(255),
  'x'.repeat(256),
  'x'.repeat(4096),
  'é',
  '\u00a0',
  '\u2028',
  '%s',
  '%[src]',
  '$' + '{x}',
  '[x]',
  '(x)',
  '<x>',
  ',',
  '=',
  '|',
  '\\x',
];

/** Numbers around every limit our targets have: 8, 16, 32 bits, safe integers, doubles. */
const EDGE_NUMBERS: readonly number[] = [
  0,
  1,
  2,
  255,
  256,
  65535,
  65536,
  2147483647,
  2147483648,
  4294967295,
  4294967296,
  Number.MAX_SAFE_INTEGER,
  1e21,
  1e35,
];

export function arbitraryFromSchema(schema: JsonSchema, opts: ArbitraryOptions = {}): fc.Arbitrary<unknown> {
  return build(schema, [], opts);
}

function build(s: JsonSchema, path: SchemaPath, opts: ArbitraryOptions): fc.Arbitrary<unknown> {
  const plain = fromSchema(s, path, opts);
  return opts.override?.(path, plain) ?? plain;
}

function fromSchema(s: JsonSchema, path: SchemaPath, opts: ArbitraryOptions): fc.Arbitrary<unknown> {
  for (const k of Object.keys(s))
    if (!KNOWN.has(k)) throw new Error(`json-schema-arbitrary: keyword \`${k}\` at ${path.join('.')}`);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const union = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (union) return fc.oneof(...union.map((b) => build(b, path, opts)));
  if (Array.isArray(s.type)) return fc.oneof(...s.type.map((t) => build({ ...s, type: t }, path, opts)));
  switch (s.type) {
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'integer':
    case 'number':
      return numberArb(s);
    case 'string':
      return stringArb(s);
    case 'array':
      return arrayArb(s, path, opts);
    case 'object':
      return objectArb(s, path, opts);
    default:
      throw new Error(`json-schema-arbitrary: type ${String(s.type)} at ${path.join('.')}`);
  }
}

/**
 * Values inside the schema's range only: a value the schema rejects is rejected by `check` too,
 * so it cannot break "check passes ⇒ build passes". The range's own ends, and every 8/16/32-bit
 * and safe-integer limit inside it, come often.
 */
function numberArb(s: JsonSchema): fc.Arbitrary<number> {
  const int = s.type === 'integer';
  const step = int ? 1 : 1e-3;
  const min = s.minimum ?? s.exclusiveMinimum;
  const max = s.maximum ?? s.exclusiveMaximum;
  const lo = typeof min === 'number' ? (typeof s.exclusiveMinimum === 'number' ? min + step : min) : -1e6;
  const hi = typeof max === 'number' ? (typeof s.exclusiveMaximum === 'number' ? max - step : max) : 1e12;
  const edges = [...EDGE_NUMBERS, lo, hi, lo + step, hi - step].filter((n) => n >= lo && n <= hi);
  const clamp = (n: number) => Math.min(Math.max(n, lo), hi);
  const small = int
    ? fc.integer({ min: clamp(0), max: clamp(1000) })
    : fc.double({ min: clamp(0), max: clamp(100), noNaN: true });
  const any = int
    ? fc.integer({ min: Math.max(lo, Number.MIN_SAFE_INTEGER), max: Math.min(hi, Number.MAX_SAFE_INTEGER) })
    : fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
  const arbs: fc.WeightedArbitrary<number>[] = [
    { arbitrary: small, weight: 4 },
    { arbitrary: any, weight: 2 },
    { arbitrary: fc.constantFrom(...edges), weight: 3 },
  ];
  const fractions = [0.001, 0.01, 0.5, 1.5, 40.95, 40.96, 255.5].filter((n) => n >= lo && n <= hi);
  if (!int && fractions.length > 0) arbs.push({ arbitrary: fc.constantFrom(...fractions), weight: 1 });
  return fc.oneof(...arbs);
}

/**
 * Strings the JSON Schema allows (pattern, length): mostly plain tokens (letters, digits, `._-`)
 * or the pattern's own short strings, which refinements beyond the JSON Schema usually accept;
 * now and then an edge string, arbitrary text, or exactly `maxLength` characters.
 */
function stringArb(s: JsonSchema): fc.Arbitrary<string> {
  const minLength = Math.max((s.minLength as number | undefined) ?? 0, 0);
  const maxLength = (s.maxLength as number | undefined) ?? 300;
  const pattern = typeof s.pattern === 'string' ? new RegExp(s.pattern) : undefined;
  const fits = (t: string) => t.length >= minLength && t.length <= maxLength && (pattern?.test(t) ?? true);
  const edges = EDGE_STRINGS.filter(fits);
  const arbs: fc.WeightedArbitrary<string>[] = [];
  if (pattern) {
    arbs.push(
      { arbitrary: fc.stringMatching(pattern, { size: 'xsmall' }), weight: 90 },
      { arbitrary: fc.stringMatching(pattern), weight: 6 },
    );
  } else {
    arbs.push(
      { arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/).filter(fits), weight: 90 },
      {
        arbitrary: fc.string({ minLength, maxLength: Math.min(maxLength, 40), unit: 'grapheme' }),
        weight: 2,
      },
      { arbitrary: fc.constant('a'.repeat(Math.max(maxLength, minLength))), weight: 2 },
    );
  }
  if (edges.length > 0) arbs.push({ arbitrary: fc.constantFrom(...edges), weight: 6 });
  return fc.oneof(...arbs);
}

function arrayArb(s: JsonSchema, path: SchemaPath, opts: ArbitraryOptions): fc.Arbitrary<unknown[]> {
  const minLength = (s.minItems as number | undefined) ?? 0;
  const maxLength = Math.min((s.maxItems as number | undefined) ?? minLength + 2, minLength + 2);
  return fc.array(build(s.items as JsonSchema, [...path, '*'], opts), { minLength, maxLength });
}

function objectArb(
  s: JsonSchema,
  path: SchemaPath,
  opts: ArbitraryOptions,
): fc.Arbitrary<Record<string, unknown>> {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required ?? []) as string[]);
  const entries = Object.entries(props).map(([key, sub]) => {
    const value = build(sub, [...path, key], opts);
    const presence =
      (typeof opts.presence === 'function' ? opts.presence([...path, key]) : opts.presence) ?? 0.5;
    const arb = required.has(key)
      ? value.map((v) => [key, v] as const)
      : fc
          .tuple(fc.double({ min: 0, max: 1, noNaN: true }), value)
          .map(([p, v]) => (p < presence ? ([key, v] as const) : undefined));
    return arb;
  });
  const known = fc.tuple(...entries).map((kv) => {
    const out: Record<string, unknown> = {};
    for (const e of kv) if (e !== undefined) out[e[0]] = e[1];
    return out;
  });
  const extra = s.additionalProperties;
  if (extra === undefined || extra === false || extra === true) return known;
  const keys = s.propertyNames
    ? (build(s.propertyNames as JsonSchema, [...path, '*key'], opts) as fc.Arbitrary<string>)
    : fc.string();
  return fc
    .tuple(
      known,
      fc.dictionary(keys, build(extra as JsonSchema, [...path, '*'], opts), {
        maxKeys: 3,
        noNullPrototype: true,
      }),
    )
    .map(([a, b]) => ({ ...b, ...a }));
}
