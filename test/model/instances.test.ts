import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ServiceModel, SiteModel } from '../../src/model/index.ts';
import { groupInstances, stablePorts, statsPortCapacity } from '../../src/model/index.ts';

const PORT_SPAN = 10_000;

/** Linear probing as written plainly: the reference `stablePorts` must agree with. */
function probedPorts(names: readonly string[], base: number): Map<string, number> {
  // The node's own ports (SSH, BGP, Icinga API, healthd) are never handed out.
  const used = new Set(
    [22, 179, 5665, 9300].filter((p) => p >= base && p < base + PORT_SPAN).map((p) => p - base),
  );
  const out = new Map<string, number>();
  for (const name of [...names].sort()) {
    let slot = fnv1a(name) % PORT_SPAN;
    while (used.has(slot)) slot = (slot + 1) % PORT_SPAN;
    used.add(slot);
    out.set(name, base + slot);
  }
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

describe('stablePorts', () => {
  it('gives the ports of plain linear probing', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 300 }), (names) => {
        assert.deepEqual(stablePorts(names, 20_000), probedPorts(names, 20_000));
      }),
      { numRuns: 200 },
    );
  });

  it('ends with more names than ports: every port of the span used once, the rest past it', () => {
    const names = Array.from({ length: PORT_SPAN + 5 }, (_, i) => `n${i}`);
    const ports = stablePorts(names, 20_000);
    const inSpan = [...ports.values()].filter((p) => p < 20_000 + PORT_SPAN);
    assert.equal(new Set(inSpan).size, PORT_SPAN);
    assert.equal(ports.size, PORT_SPAN + 5);
    assert.equal(new Set(ports.values()).size, PORT_SPAN + 5);
  });

  it("never hands out the node's own ports, whatever the base", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 65536 - PORT_SPAN }),
        (names, base) => {
          const ports = stablePorts(names, base);
          assert.deepEqual(ports, probedPorts(names, base));
          for (const p of [22, 179, 5665, 9300]) assert.ok(![...ports.values()].includes(p), `port ${p}`);
        },
      ),
      { numRuns: 200 },
    );
    // Names that hash right onto 22 - 1 + 1: from base 1, slot 21 is port 22.
    const onSsh = Array.from({ length: 20_000 }, (_, i) => `s${i}`).find((n) => fnv1a(n) % PORT_SPAN === 21)!;
    assert.equal(stablePorts([onSsh], 1).get(onSsh), 23);
    assert.equal(statsPortCapacity(1), PORT_SPAN - 4);
    assert.equal(statsPortCapacity(20_000), PORT_SPAN);
  });

  it('gives them when nearly every port is taken and probes run long', () => {
    const names = Array.from({ length: PORT_SPAN - 3 }, (_, i) => `dept${i % 10}-svc${i}`);
    assert.deepEqual(stablePorts(names, 20_000), probedPorts(names, 20_000));
  });
});

const SITE = {
  name: 'x',
  instances: 'per-vip',
  management: { allow: [], statsPortBase: 20_000 },
} as unknown as SiteModel;

/** Services with addresses drawn from small pools, so that many share one. */
const services = fc
  .uniqueArray(
    fc.record({
      id: fc.stringMatching(/^[a-c]\/[a-e]{1,2}$/),
      vip: fc.option(fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'), { nil: undefined }),
      vip6: fc.option(fc.constantFrom('2001:db8::1', '2001:db8::2', '2001:db8::3'), { nil: undefined }),
    }),
    { selector: (s) => s.id, maxLength: 12 },
  )
  .map((list) =>
    list.map(
      ({ id, vip, vip6 }) => ({ id, ...(vip && { vip }), ...(vip6 && { vip6 }) }) as unknown as ServiceModel,
    ),
  );

/** Which services share an instance, by the plain definition: connected through shared addresses. */
function sharing(list: readonly ServiceModel[]): string[][] {
  const addrs = (s: ServiceModel): string[] => [s.vip, s.vip6].filter((a): a is string => a !== undefined);
  const groups: Set<ServiceModel>[] = [];
  for (const s of list) {
    const joined = groups.filter((g) => [...g].some((o) => addrs(o).some((a) => addrs(s).includes(a))));
    const merged = new Set([s, ...joined.flatMap((g) => [...g])]);
    groups.splice(0, groups.length, ...groups.filter((g) => !joined.includes(g)), merged);
  }
  return groups.map((g) => [...g].map((s) => s.id).sort()).sort();
}

describe('groupInstances (per-vip)', () => {
  it('puts services in one instance exactly when they are connected through shared addresses', () => {
    fc.assert(
      fc.property(services, (list) => {
        const got = groupInstances(list, SITE)
          .map((i) => [...i.services].sort())
          .sort();
        assert.deepEqual(got, sharing(list));
      }),
      { numRuns: 500 },
    );
  });
});
