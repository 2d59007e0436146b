/**
 * Flow pinning on the lab router: a connection stays on the LB node it started on, whatever
 * happens to the VIP's equal paths afterwards.
 *
 * A router that routes each packet by the ECMP hash alone moves flows between nodes whenever a
 * VIP's set of next hops changes: when a node withdraws (drain), its connections in flight go to
 * another node, which has no socket for them and resets them; when it comes back (undrain), the
 * hash splits anew and some of the other nodes' connections move to it. That is the network's
 * doing, not the load balancer's, and it is what a plain ECMP router in front of anycast VIPs
 * does. Routers that keep flow state (a stateful firewall or an L4 tier in front, resilient
 * hashing for the nodes that stay) do not. The lab router pins by default, so a test of a drain
 * measures what intentlb does; `lab up --plain-ecmp` leaves the plain hash, and
 * bench/lab/failover.ts measures both.
 *
 * How: conntrack remembers the next hop each new forwarded connection took (postrouting, from
 * `rt ip nexthop`) as its mark; later packets of the connection's original direction get the mark
 * back in prerouting, and a policy rule per node sends marked packets to a table whose only route
 * is that node. Replies and traffic to anything that is not an LB node are untouched.
 */
import { execFile } from 'node:child_process';
import { findTool } from '../build/run-tool.ts';
import { familyOf } from '../vocabulary/strings.ts';
import { IP, nftIn } from './netns.ts';
import type { LabState } from './state.ts';
import type { LabTopology } from './topology.ts';
import { runBatch } from './wiring.ts';
import type { IpBatch } from './wiring-plan.ts';

export const FLOW_TABLE = 'intentlb_lab_flows';
/** The fwmark, routing table and rule priority of the n-th LB node (from 1). */
const FIRST_MARK = 1000;

export interface FlowPinning {
  /** `nft -f` script for the router's namespace. */
  nft: string;
  /** `ip -4 -batch` and `ip -6 -batch` lines for the router's namespace. */
  ip: IpBatch[];
}

/** What pins flows on the router of `topology` (nothing when it has no LB node). */
export function flowPinning(topology: LabTopology): FlowPinning {
  const router = topology.hosts.find((h) => h.role === 'router')!;
  const nodes = topology.hosts.filter((h) => h.role === 'node');
  const maps: Record<4 | 6, string[]> = { 4: [], 6: [] };
  const lines: Record<4 | 6, string[]> = { 4: [], 6: [] };
  for (const [i, node] of nodes.entries()) {
    const mark = FIRST_MARK + i + 1;
    for (const family of [4, 6] as const) {
      const addresses = node.addresses.filter((a) => familyOf(a.address) === family).map((a) => a.address);
      if (addresses.length === 0) continue;
      for (const a of addresses) maps[family].push(`${a} : ${mark}`);
      lines[family].push(
        `rule add fwmark ${mark} table ${mark} priority ${mark}`,
        `route add default via ${addresses[0]} table ${mark}`,
      );
    }
  }
  const rules: string[] = [];
  if (maps[4].length > 0) {
    rules.push(
      `    ct direction original ct state new meta nfproto ipv4 ct mark set rt ip nexthop map { ${maps[4].join(', ')} }`,
    );
  }
  if (maps[6].length > 0) {
    rules.push(
      `    ct direction original ct state new meta nfproto ipv6 ct mark set rt ip6 nexthop map { ${maps[6].join(', ')} }`,
    );
  }
  const nft = [
    `add table inet ${FLOW_TABLE}`,
    `delete table inet ${FLOW_TABLE}`,
    ...(rules.length === 0
      ? []
      : [
          `table inet ${FLOW_TABLE} {`,
          '  chain pin {',
          '    type filter hook postrouting priority mangle; policy accept;',
          ...rules,
          '  }',
          '  chain follow {',
          '    type filter hook prerouting priority mangle; policy accept;',
          '    ct direction original ct state established ct mark != 0 meta mark set ct mark',
          '  }',
          '}',
        ]),
  ];
  const ip = ([4, 6] as const)
    .filter((f) => lines[f].length > 0)
    .map((family) => ({ ns: router.ns, family, lines: lines[family] }));
  return { nft: `${nft.join('\n')}\n`, ip };
}

/** How `lab up` and `lab status` say it: `, connections pinned to their node`, `, plain ECMP`, or nothing. */
export function flowsText(flows: 'pinned' | 'plain' | undefined): string {
  if (flows === undefined) return '';
  return flows === 'pinned' ? ', connections pinned to their node' : ', plain ECMP';
}

/** The `nft -f` script that removes the pinning (the policy rules without marks are inert). */
export function flowPinningOff(): string {
  return `add table inet ${FLOW_TABLE}\ndelete table inet ${FLOW_TABLE}\n`;
}

/**
 * Pins flows on the lab's router (`on`), or lets the ECMP hash alone route them. The policy rules
 * and tables are put in place once (they are inert without the marks); the nftables table is
 * what switches.
 */
export async function setFlowPinning(s: LabState, on: boolean): Promise<void> {
  const router = s.topology.hosts.find((h) => h.role === 'router')!;
  const plan = flowPinning(s.topology);
  if (!on) {
    await nftIn(router.ns, flowPinningOff());
    return;
  }
  // Idempotent: the rules are taken out first (`-force`: missing ones are no error), routes replaced.
  for (const b of plan.ip) {
    const rules = b.lines.filter((l) => l.startsWith('rule add '));
    await runBatch({ ...b, lines: rules.map((l) => l.replace(/^rule add /, 'rule del ')) }, true).catch(
      () => {},
    );
    await runBatch({ ...b, lines: b.lines.map((l) => l.replace(/^route add /, 'route replace ')) });
  }
  await nftIn(router.ns, plan.nft);
}

/** Whether the router's namespace has the pinning table now. */
export function flowPinningOn(routerNs: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      IP,
      ['netns', 'exec', routerNs, findTool('nft') ?? 'nft', 'list', 'table', 'inet', FLOW_TABLE],
      { timeout: 10_000 },
      (err) => resolve(err === null),
    );
  });
}
