import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { emitYaml, type YamlValue } from '../../src/render/yaml-emit.ts';

// The emitter must write what a YAML parser reads back as the same value.
const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/).filter((k) => k !== '__proto__');
const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('true', 'no', '1.5', 'a: b', '- x', '#c', '', ' x'),
  // Strings a YAML reader would take for numbers (found: "0e0").
  fc.constantFrom(
    '0e0',
    '1e5',
    '1_000',
    '0x1f',
    '0o17',
    '017',
    '0b101',
    '1:20',
    '.inf',
    '-.5',
    '+1',
    '198.18.0.1',
  ),
  fc.stringMatching(/^[-+]?[0-9._eExob:]{1,6}$/),
);
const value: fc.Arbitrary<YamlValue> = fc.letrec<{ v: YamlValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 4 }),
  ),
})).v;

it('round-trips through a YAML parser', () => {
  fc.assert(
    fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (doc) => {
      assert.deepEqual(parse(emitYaml(doc)) ?? {}, JSON.parse(JSON.stringify(doc)));
    }),
    { numRuns: 500, examples: [[{ _: { a: { a: '0e0' } } }]] },
  );
});
