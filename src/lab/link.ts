/**
 * `intentlb lab link <host> down|blackhole|up`: take a host's link to the router down, the way a
 * cable pull or a switch port failure would; or keep it up and drop every packet on it, the way a
 * broken path behind a live port does (only BFD or the BGP hold timer notice that); and bring it
 * back as the host's network configuration would.
 *
 * `ip link set down` flushes every route through the interface, the default routes too, and
 * (without `keep_addr_on_down`) the interface's IPv6 addresses; `up` alone restores only the
 * IPv4 connected routes. So `up` puts the host's addresses (IPv6 without DAD, as at wiring) and
 * its default routes back from the lab's topology. Addresses other programs put on the interface
 * (keepalived's VRRP VIPs) are theirs to restore.
 */

import { LabError } from './errors.ts';
import { nftIn } from './netns.ts';
import type { LabState } from './state.ts';
import type { LabHost } from './topology.ts';
import { runBatch } from './wiring.ts';
import { addrLine } from './wiring-plan.ts';

export const LINK_STATES = ['down', 'blackhole', 'up'] as const;
export type LinkState = (typeof LINK_STATES)[number];

/** The `ip -batch` lines that take the host's link down or up. */
export function linkLines(h: LabHost, to: 'down' | 'up'): string[] {
  if (to === 'down') return [`link set ${h.ifname} down`];
  const lines = [`link set ${h.ifname} up`];
  for (const a of h.addresses) lines.push(addrLine(a.address, a.prefixLength, h.ifname, 'replace'));
  if (h.gateway4 !== undefined) lines.push(`route replace default via ${h.gateway4}`);
  if (h.gateway6 !== undefined) lines.push(`route replace default via ${h.gateway6}`);
  return lines;
}

/** The nftables table that blackholes a host's link, in the host's own namespace. */
export const BLACKHOLE_TABLE = 'intentlb_lab_blackhole';

/** The `nft -f` script for a blackhole (`on`) or for its removal; removal works when there is none. */
export function blackholeScript(h: LabHost, on: boolean): string {
  const lines = [`add table inet ${BLACKHOLE_TABLE}`, `delete table inet ${BLACKHOLE_TABLE}`];
  if (on) {
    lines.push(
      `table inet ${BLACKHOLE_TABLE} {`,
      `  chain in { type filter hook prerouting priority raw - 10; iifname "${h.ifname}" drop; }`,
      `  chain out { type filter hook output priority raw - 10; oifname "${h.ifname}" drop; }`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A host whose link can be switched: every host but the router (which owns the bridges). */
export function linkHost(state: LabState, name: string): LabHost {
  const h = state.topology.hosts.find((x) => x.name === name);
  const hosts = state.topology.hosts.filter((x) => x.role !== 'router').map((x) => x.name);
  if (h === undefined || h.role === 'router') {
    throw new LabError(`"${name}" has no link to switch (hosts: ${hosts.join(', ')})`);
  }
  return h;
}

/**
 * Takes a host's link down, blackholes it, or brings it up (with its addresses and default routes
 * back, and no blackhole).
 */
export async function setLink(state: LabState, name: string, to: LinkState): Promise<void> {
  const h = linkHost(state, name);
  if (to !== 'blackhole') await runBatch({ ns: h.ns, lines: linkLines(h, to) });
  await nftIn(h.ns, blackholeScript(h, to === 'blackhole'));
}
