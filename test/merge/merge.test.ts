import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSource } from '../../src/load/index.ts';
import {
  getPath,
  isTree,
  keyPaths,
  type Layer,
  leafPaths,
  mergeLayer,
  mergeLayers,
  mergeValues,
  type Tree,
} from '../../src/merge/index.ts';

/**
 * YAML-like values. Intent layers agree on which keys hold maps (the schema fixes the type of every
 * key), so the generators first draw a shape — which paths are maps — and then values of that shape,
 * each key present or not. Lists and scalars are leaves to the merge.
 */
type Shape = { kind: 'leaf' } | { kind: 'map'; keys: Record<string, Shape> };

const key = fc.constantFrom('a', 'b', 'c', 'backend', 'check', 'port');
const scalar = fc.oneof(
  fc.integer({ min: -5, max: 70000 }),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
);
const leafValue: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 3 }),
  fc.array(fc.dictionary(key, scalar, { maxKeys: 2, noNullPrototype: true }), { maxLength: 2 }),
);

const { shape } = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Shape>({ kind: 'leaf' }),
    fc
      .dictionary(key, tie('shape'), { maxKeys: 4, noNullPrototype: true })
      .map((keys): Shape => ({ kind: 'map', keys })),
  ),
}));
const mapShape = fc
  .dictionary(key, shape, { minKeys: 1, maxKeys: 5, noNullPrototype: true })
  .map((keys): Shape => ({ kind: 'map', keys }));

function arbitraryOf(s: Shape): fc.Arbitrary<unknown> {
  if (s.kind === 'leaf') return leafValue;
  const fields = Object.fromEntries(Object.entries(s.keys).map(([k, sub]) => [k, arbitraryOf(sub)]));
  return fc.record(fields, { requiredKeys: [], noNullPrototype: true });
}

/** n layers of one shape, each a map (a layer is a file's data). */
const layersOf = (n: number) =>
  mapShape.chain((s) => fc.tuple(...Array.from({ length: n }, () => arbitraryOf(s) as fc.Arbitrary<Tree>)));

/** Any YAML-like tree, the layers not agreeing on types. */
const { anyTree } = fc.letrec<{ anyTree: unknown }>((tie) => ({
  anyTree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafValue,
    fc.dictionary(key, tie('anyTree'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));

const RUNS = { numRuns: 300 };

describe('mergeValues', () => {
  it('is associative over layers that agree on which keys are maps', () => {
    fc.assert(
      fc.property(layersOf(3), ([a, b, c]) => {
        assert.deepEqual(mergeValues(mergeValues(a, b), c), mergeValues(a, mergeValues(b, c)));
      }),
      RUNS,
    );
  });

  it('has the empty map as identity on both sides', () => {
    fc.assert(
      fc.property(layersOf(1), ([a]) => {
        assert.deepEqual(mergeValues({}, a), a);
        assert.deepEqual(mergeValues(a, {}), a);
        assert.deepEqual(mergeValues(a, undefined), a);
      }),
      RUNS,
    );
  });

  it('merges maps key by key: every leaf comes from the last layer that sets it, lists whole', () => {
    fc.assert(
      fc.property(layersOf(2), (ls) => {
        const [a, b] = ls as [Tree, Tree];
        const m = mergeValues(a, b) as Tree;
        assert.deepEqual(Object.keys(m).sort(), [...new Set([...Object.keys(a), ...Object.keys(b)])].sort());
        for (const p of leafPaths(m)) {
          const fromB = getPath(b, p);
          assert.deepEqual(getPath(m, p), fromB !== undefined ? fromB : getPath(a, p), p.join('.'));
        }
      }),
      RUNS,
    );
  });

  it('replaces scalars and lists outright, and a map by a scalar, over any trees', () => {
    fc.assert(
      fc.property(anyTree, anyTree, (a, b) => {
        const m = mergeValues(a, b);
        if (!isTree(a) || !isTree(b)) {
          assert.deepEqual(m, b);
          return;
        }
        for (const [k, v] of Object.entries(b)) {
          if (!isTree(v) || !isTree(a[k])) assert.deepEqual((m as Tree)[k], v, k);
        }
        for (const [k, v] of Object.entries(a)) if (!(k in b)) assert.deepEqual((m as Tree)[k], v, k);
      }),
      RUNS,
    );
  });

  it('never changes its inputs', () => {
    fc.assert(
      fc.property(anyTree, anyTree, (a, b) => {
        const [a0, b0] = [structuredClone(a), structuredClone(b)];
        mergeValues(a, b);
        assert.deepEqual(a, a0);
        assert.deepEqual(b, b0);
      }),
      RUNS,
    );
  });

  it('is not associative when a middle layer replaces a map by a scalar (validation prevents that)', () => {
    const [a, b, c] = [{ x: { y: 1 } }, { x: 5 }, { x: { z: 2 } }];
    assert.deepEqual(mergeValues(mergeValues(a, b), c), { x: { z: 2 } });
    assert.deepEqual(mergeValues(a, mergeValues(b, c)), { x: { y: 1, z: 2 } });
  });
});

/** Layers over a dummy source file: mergeLayers only reads `data`. */
function layers(datas: readonly Tree[]): Layer[] {
  const file = parseSource('services/x.yaml', '{}\n').file;
  return datas.map((data) => ({ file, data }));
}

describe('mergeLayers', () => {
  it('folds the layers in order: the same value as mergeValues left to right', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain(layersOf), (ls) => {
        const { value } = mergeLayers(layers(ls));
        assert.deepEqual(
          value,
          ls.reduce<unknown>((acc, l) => mergeValues(acc, l), {}),
        );
      }),
      RUNS,
    );
  });

  it('records, for every key path, the last layer that sets it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain(layersOf), (ls) => {
        const { value, origin } = mergeLayers(layers(ls));
        const paths = keyPaths(value).map((p) => p.join('.'));
        assert.deepEqual([...origin.keys()].sort(), [...paths].sort(), 'one origin per key path');
        for (const p of keyPaths(value)) {
          let last = -1;
          ls.forEach((l, i) => {
            if (getPath(l, p) !== undefined) last = i;
          });
          assert.equal(origin.get(p.join('.')), last, p.join('.'));
        }
      }),
      RUNS,
    );
  });

  it('gives the same value and origins when the last layer is merged onto the others (mergeLayer)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain(layersOf), (ls) => {
        const all = layers(ls);
        const whole = mergeLayers(all);
        const stepped = mergeLayer(mergeLayers(all.slice(0, -1)), all.at(-1)!.data, all.length - 1);
        assert.deepEqual(stepped.value, whole.value);
        assert.deepEqual([...stepped.origin], [...whole.origin], 'same origins, in the same order');
      }),
      RUNS,
    );
  });

  it('points a leaf at the deeper defaults file that overrides the root one', () => {
    const { value, origin } = mergeLayers(
      layers([
        { backend: { check: { interval: '2s', rise: 2 } } },
        { backend: { check: { interval: '5s' } } },
        { vip: '198.18.100.10' },
      ]),
    );
    assert.deepEqual(value, { backend: { check: { interval: '5s', rise: 2 } }, vip: '198.18.100.10' });
    assert.equal(origin.get('backend.check.interval'), 1);
    assert.equal(origin.get('backend.check.rise'), 0);
    assert.equal(origin.get('backend.check'), 1);
    assert.equal(origin.get('vip'), 2);
  });
});
