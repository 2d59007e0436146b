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
    { numRuns: 500 },
  );
});
