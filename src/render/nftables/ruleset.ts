import type { Model, NodeModel, ServiceModel } from '../../model/index.ts';
import { HEALTHD_PORT, ICINGA_API_PORT, SSH_PORT } from '../../model/node-ports.ts';
import { ConfigWriter } from '../emit.ts';
import { comment as quoteComment, str } from '../quote/nftables.ts';
import { SharedParts } from '../shared.ts';
import { HEADER, type Renderer } from '../types.ts';

const TABLE = 'inet intentlb';
const BGP_PORT = 179;
/** BFD single-hop control, echo, and multi-hop control (RFC 5881, 5883). */
const BFD_PORTS = [3784, 3785, 4784];
const VRRP_PROTOCOL = 112;

type Family = 'v4' | 'v6';
const FAMILIES: readonly Family[] = ['v4', 'v6'];
/** The address match keyword and the set element type of each family. */
const MATCH: Record<Family, { keyword: string; addrType: string }> = {
  v4: { keyword: 'ip', addrType: 'ipv4_addr' },
  v6: { keyword: 'ip6', addrType: 'ipv6_addr' },
};

interface SetElement {
  value: string;
  comment?: string;
}

/**
 * `nftables/intentlb.nft`: a self-contained default-deny input policy for the node. Loading the
 * file (`nft -f`) is one transaction: the empty declaration makes the delete succeed on the first
 * load, and the table is then recreated whole, so no half-applied ruleset is ever live.
 */
export const renderNftables: Renderer = (model, node, _layout, shared = new SharedParts()) => {
  const w = new ConfigWriter();
  w.comment(HEADER, 0);
  w.comment(`site ${model.site.name}, node ${node.name}: default-deny input for the load balancer`, 0);
  // Only the header names the node: the ruleset is the same on every node.
  w.block(shared.get('nftables', () => renderRuleset(model)));
  return [{ path: 'nftables/intentlb.nft', content: w.toString() }];
};

function renderRuleset(model: Model): string {
  const w = new ConfigWriter();
  w.section(`table ${TABLE} {}`);
  w.raw(`delete table ${TABLE}`);
  w.section(`table ${TABLE} {`);
  const sets = renderSets(w, model);
  w.blank();
  w.line('chain input {');
  w.line('type filter hook input priority filter; policy drop;', 2);
  renderBasics(w);
  renderServices(w, model, sets);
  renderHealth(w, model, sets);
  renderHa(w, model, sets);
  renderManagement(w, model, sets);
  w.line('}');
  w.raw('}');
  return w.toString();
}

/** Names of the sets that ended up non-empty (nft rejects an empty `elements` list). */
type Sets = Set<string>;

function renderSets(w: ConfigWriter, model: Model): Sets {
  const declared: Sets = new Set();
  const declare = (name: string, type: string, interval: boolean, elements: SetElement[]): void => {
    if (elements.length === 0) return;
    if (declared.size > 0) w.blank();
    declared.add(name);
    w.line(`set ${name} {`);
    w.line(`type ${type}`, 2);
    if (interval) {
      w.line('flags interval', 2);
      w.line('auto-merge', 2);
    }
    w.line('elements = {', 2);
    // A comma after every element, the last one too: nft accepts it and the lines stay uniform.
    for (const e of elements) {
      const parts = e.comment === undefined ? [e.value] : [e.value, 'comment', quoteComment(e.comment)];
      w.line(`${parts.join(' ')},`, 3);
    }
    w.line('}', 2);
    w.line('}');
  };
  for (const f of FAMILIES) {
    declare(
      `vips_${f}`,
      `${MATCH[f].addrType} . inet_service`,
      false,
      model.services
        .filter((s) => s.allow.length === 0)
        .flatMap((s) => vipPorts(s, f).map((vp) => ({ value: vp, comment: s.id }))),
    );
  }
  for (const f of FAMILIES) {
    const nodes = model.site.nodes.flatMap((n) => nodeAddresses(n).filter((a) => familyOf(a) === f));
    declare(
      `lb_nodes_${f}`,
      MATCH[f].addrType,
      false,
      sorted(nodes).map((value) => ({ value })),
    );
  }
  for (const f of FAMILIES) {
    const allow = model.site.management.allow.filter((p) => familyOf(p) === f);
    declare(
      `mgmt_${f}`,
      MATCH[f].addrType,
      true,
      sorted(allow).map((value) => ({ value })),
    );
  }
  const peers = model.site.ha.mode === 'anycast' ? (model.site.ha.bgp?.peers ?? []) : [];
  for (const f of FAMILIES) {
    declare(
      `bgp_peers_${f}`,
      MATCH[f].addrType,
      false,
      [...peers]
        .filter((p) => familyOf(p.address) === f)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((p) => ({ value: p.address, comment: `peer ${p.name}` })),
    );
  }
  return declared;
}

function renderBasics(w: ConfigWriter): void {
  w.blank();
  w.line('ct state invalid drop', 2);
  w.line('ct state established,related accept', 2);
  w.comment("Loopback also carries the node's own probes of its VIPs (health checker).", 2);
  w.line('iif "lo" accept', 2);
  w.comment('ICMP that IPv4 and IPv6 need to work: errors (PMTU discovery), echo, neighbour discovery.', 2);
  w.line('icmp type { destination-unreachable, time-exceeded, parameter-problem, echo-request } accept', 2);
  w.line(
    'icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request } accept',
    2,
  );
  w.line(
    'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept',
    2,
  );
  w.line(
    'icmpv6 type { mld-listener-query, mld-listener-report, mld2-listener-report } ip6 saddr fe80::/10 accept',
    2,
  );
}

function renderServices(w: ConfigWriter, model: Model, sets: Sets): void {
  w.blank();
  w.comment('Service VIPs open to everyone; each set element names its service.', 2);
  for (const f of FAMILIES) {
    if (sets.has(`vips_${f}`))
      w.line(`${MATCH[f].keyword} daddr . tcp dport @vips_${f} accept comment "services"`, 2);
  }
  const restricted = model.services.filter((s) => s.allow.length > 0);
  if (restricted.length === 0) return;
  w.comment('Services with an allow list: only those sources.', 2);
  for (const s of restricted) {
    for (const f of FAMILIES) {
      const sources = sorted(s.allow.filter((p) => familyOf(p) === f));
      const targets = vipPorts(s, f);
      // No source of the VIP's family is allowed: default deny covers it.
      if (sources.length === 0 || targets.length === 0) continue;
      const k = MATCH[f].keyword;
      w.tokens(
        2,
        `${k} saddr ${anonymousSet(sources)}`,
        `${k} daddr . tcp dport ${anonymousSet(targets)}`,
        `accept comment ${quoteComment(s.id)}`,
      );
    }
  }
}

function renderHealth(w: ConfigWriter, model: Model, sets: Sets): void {
  const port = model.site.health.port;
  w.blank();
  w.comment(
    `Health monitor (HAProxy monitor URI on every VIP, port ${port}): the LB nodes and management.`,
    2,
  );
  for (const f of FAMILIES) {
    for (const set of [`lb_nodes_${f}`, `mgmt_${f}`]) {
      if (sets.has(set))
        w.line(`${MATCH[f].keyword} saddr @${set} tcp dport ${port} accept comment "health"`, 2);
    }
  }
}

function renderHa(w: ConfigWriter, model: Model, sets: Sets): void {
  const ha = model.site.ha;
  if (ha.mode === 'anycast') {
    w.blank();
    w.comment('BGP and BFD from the configured peers only.', 2);
    for (const f of FAMILIES) {
      if (!sets.has(`bgp_peers_${f}`)) continue;
      const k = MATCH[f].keyword;
      w.line(`${k} saddr @bgp_peers_${f} tcp dport ${BGP_PORT} accept comment "BGP"`, 2);
      w.line(
        `${k} saddr @bgp_peers_${f} udp dport ${anonymousSet(BFD_PORTS.map(String))} accept comment "BFD"`,
        2,
      );
    }
  } else if (ha.mode === 'script') {
    w.blank();
    w.comment("Script failover: each node reads its preferred peers' healthd /status.", 2);
    for (const f of FAMILIES) {
      if (sets.has(`lb_nodes_${f}`))
        w.line(
          `${MATCH[f].keyword} saddr @lb_nodes_${f} tcp dport ${HEALTHD_PORT} accept comment "healthd peers"`,
          2,
        );
    }
  } else if (ha.mode === 'vrrp' && ha.vrrp !== undefined) {
    w.blank();
    w.comment('VRRP advertisements on the VRRP interface (IPv6 ones come from link-local addresses).', 2);
    w.line(
      `iifname ${str('nftables interface', ha.vrrp.interface)} meta l4proto ${VRRP_PROTOCOL} accept comment "VRRP"`,
      2,
    );
  }
}

function renderManagement(w: ConfigWriter, model: Model, sets: Sets): void {
  const ports = [
    SSH_PORT,
    ICINGA_API_PORT,
    HEALTHD_PORT,
    ...[...model.instances].sort((a, b) => a.statsPort - b.statsPort).map((i) => i.statsPort),
  ];
  const dports = `tcp dport ${anonymousSet(ports.map(String))}`;
  w.blank();
  w.comment(
    "Management: SSH, the Icinga agent's API, healthd's /metrics and /status, the HAProxy stats/Prometheus ports of every instance.",
    2,
  );
  if (model.site.management.allow.length === 0) {
    w.comment('management.allow is empty: open to everyone.', 2);
    w.line(`${dports} accept comment "management"`, 2);
    return;
  }
  for (const f of FAMILIES) {
    if (sets.has(`mgmt_${f}`))
      w.line(`${MATCH[f].keyword} saddr @mgmt_${f} ${dports} accept comment "management"`, 2);
  }
}

/** `vip . port` elements of one family for every listener of the service, sorted by port. */
function vipPorts(s: ServiceModel, f: Family): string[] {
  const vip = f === 'v4' ? s.vip : s.vip6;
  if (vip === undefined) return [];
  return [...new Set(s.listeners.map((l) => l.port))].sort((a, b) => a - b).map((p) => `${vip} . ${p}`);
}

function nodeAddresses(n: NodeModel): string[] {
  return [n.address, n.address6].filter((a): a is string => a !== undefined);
}

function familyOf(addressOrPrefix: string): Family {
  return addressOrPrefix.includes(':') ? 'v6' : 'v4';
}

function anonymousSet(values: readonly string[]): string {
  return `{ ${values.join(', ')} }`;
}

function sorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
