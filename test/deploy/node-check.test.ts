import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeNode, type NodeFacts, PLUGIN } from '../../src/deploy/node-check.ts';
import type { NodeStatus } from '../../src/deploy/status.ts';
import type { BirdProtocol } from '../../src/runtime/bird-client.ts';

function status(running: boolean[], installed = 3, applied: number | null = 3): NodeStatus {
  return {
    node: 'lb1',
    site: 'campus',
    installed,
    applied,
    appliedAt: null,
    commit: null,
    control: 'supervisor',
    units: [],
    instances: running.map((r, i) => ({
      name: `vip${i}`,
      running: r,
      masterPid: null,
      workers: 0,
      oldWorkers: 0,
      reloads: null,
      servers: { up: 0, down: 0, drain: 0, maint: 0 },
      lastChange: null,
    })),
  };
}

const bgp = (name: string, state: string, info: string): BirdProtocol =>
  ({
    name,
    proto: 'BGP',
    table: '---',
    state,
    since: '12:00:00',
    info,
    details: [],
  }) as unknown as BirdProtocol;

const facts = (f: Partial<NodeFacts> = {}): NodeFacts => ({
  status: status([true]),
  revision: 'abc',
  bgp: null,
  ...f,
});

describe('intentlb status --format nagios', () => {
  const cases: [
    name: string,
    what: 'instances' | 'bgp' | 'revision',
    f: NodeFacts,
    expected: string | undefined,
    code: number,
  ][] = [
    ['all instances running', 'instances', facts({ status: status([true, true]) }), undefined, PLUGIN.ok],
    [
      'an instance stopped',
      'instances',
      facts({ status: status([true, false]) }),
      undefined,
      PLUGIN.critical,
    ],
    ['no BGP on a VRRP node', 'bgp', facts(), undefined, PLUGIN.ok],
    ['BIRD unreachable', 'bgp', facts({ bgp: { error: 'connect ENOENT' } }), undefined, PLUGIN.critical],
    ['no BGP session at all', 'bgp', facts({ bgp: { protocols: [] } }), undefined, PLUGIN.critical],
    [
      'every session established',
      'bgp',
      facts({
        bgp: { protocols: [bgp('bgp_rr1', 'up', 'Established'), bgp('bgp_rr2', 'up', 'Established')] },
      }),
      undefined,
      PLUGIN.ok,
    ],
    [
      'one of two sessions down',
      'bgp',
      facts({ bgp: { protocols: [bgp('bgp_rr1', 'up', 'Established'), bgp('bgp_rr2', 'start', 'Active')] } }),
      undefined,
      PLUGIN.warning,
    ],
    [
      'the only session down',
      'bgp',
      facts({ bgp: { protocols: [bgp('bgp_rr1', 'start', 'Connect')] } }),
      undefined,
      PLUGIN.critical,
    ],
    ['the expected revision', 'revision', facts(), 'abc', PLUGIN.ok],
    ['another revision', 'revision', facts(), 'def', PLUGIN.warning],
    ['installed but not applied', 'revision', facts({ status: status([true], 4, 3) }), 'abc', PLUGIN.warning],
    ['nothing installed', 'revision', facts({ revision: null }), 'abc', PLUGIN.critical],
  ];
  for (const [name, what, f, expected, code] of cases) {
    it(`${name}: exit ${code}, one status line first`, () => {
      const r = judgeNode(what, f, expected);
      assert.equal(r.code, code);
      assert.match(r.text, /^[A-Z]+ (OK|WARNING|CRITICAL|UNKNOWN) - [^\n|]*(\| [^\n]*)?\n/);
    });
  }

  it('keeps a BIRD detail from adding perfdata or a status line', () => {
    const r = judgeNode('bgp', facts({ bgp: { error: 'x | y\nOK - fake' } }));
    assert.equal(r.text.split('\n').length, 2);
    assert.ok(!r.text.includes('|'));
  });
});
