import type { BgpPeerModel, HaModel, Model, NodeModel } from '../../model/index.ts';
import { allDisabled, stateSymbol, VIP_STATE_FILE, vipStateText } from '../../runtime/bird-vip-state.ts';
import { ConfigWriter, duration } from '../emit.ts';
import { str } from '../quote/bird.ts';
import { SharedParts } from '../shared.ts';
import { HEADER, type Renderer } from '../types.ts';
import { birdSymbol, type VipProtocol, vipProtocols } from './protocols.ts';

type Bgp = NonNullable<HaModel['bgp']>;
type Family = VipProtocol['family'];

/** BFD session timings per `ha.bgp.bfd`: detection after `multiplier` missed packets. */
const BFD_PROFILES: Record<Exclude<Bgp['bfd'], 'off'>, { intervalMs: number; multiplier: number }> = {
  fast: { intervalMs: 50, multiplier: 3 },
  conservative: { intervalMs: 300, multiplier: 3 },
};

/**
 * Short BGP timers: without BFD they bound how long a dead node keeps attracting traffic; with
 * BFD they are the fallback should BFD packets be filtered.
 */
const HOLD_TIME_S = 9;
const KEEPALIVE_TIME_S = 3;
/**
 * When a session goes down by an error (BFD down while the link stays up: a lossy path, a starved
 * BIRD or router; a hold-timer expiry; a notification) BIRD waits before it talks again, and while
 * it waits it refuses the router's connections, whatever the router's retry timer. The wait doubles
 * on each error that comes within the forget time of the one before. BIRD's defaults (60 s, up to
 * 300 s, remembered for 300 s) kept a node out for minutes after a few blips; ADR 0008's 5 s up to
 * 120 s still did, because blips minutes apart kept doubling it (5, 10, 20, 40, 80 s: the lab's
 * FRR runs, ADR 0023). Now one blip costs a second; errors within a minute of each other are a
 * flapping path, held out 1, 2, 4 … up to 30 s. A BFD down during the wait restarts it, so a path
 * that keeps failing stays out whatever the wait. (A link that goes down and up is not an error:
 * the session restarts at once.)
 */
const ERROR_WAIT_S = [1, 30] as const;
const ERROR_FORGET_S = 60;
/**
 * The node connects itself too, so a router that never connects (passive, dynamic neighbors) or
 * retries slowly (FRR: 120 s by default) sees it back within seconds: the first attempt 1 s after
 * the wait (BIRD: 5 s), and an attempt that hangs (its SYN lost on a path that was dead) is
 * abandoned and retried every 5 s (BIRD: 120 s, beside the kernel's own SYN backoff).
 */
const CONNECT_DELAY_S = 1;
const CONNECT_RETRY_S = 5;

const EXPORT_FILTER = 'intentlb_export';

/**
 * `bird/intentlb.conf` (BIRD 2) for anycast sites: one static protocol per VIP family of each
 * HAProxy instance, enabled or disabled by the state file it includes, and a BGP session per peer
 * exporting only those routes. `bird/vip-state.conf` is that file with every VIP disabled: what
 * `bird -p` checks against and what BIRD starts from (the live copy lives in the run directory,
 * ADR 0026). Other HA modes run no BIRD, so they get no file (and `plan` removes a stale one).
 */
export const renderBird: Renderer = (model, node, _layout, shared = new SharedParts()) => {
  const bgp = model.site.ha.bgp;
  if (model.site.ha.mode !== 'anycast' || bgp === undefined) return [];
  const families = new Set(model.instances.flatMap((inst) => vipProtocols(inst).map((p) => p.family)));

  const w = new ConfigWriter();
  w.comment(HEADER, 0);
  w.comment(`site ${model.site.name}, node ${node.name}: BGP announcements of the anycast VIPs`, 0);
  w.section(`router id ${node.address};`);
  // Between the router id and the BGP sessions, nothing names the node.
  w.block(shared.get('bird', () => renderRoutes(model, bgp)));
  for (const peer of [...bgp.peers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    renderPeer(w, node, bgp, peer, families);
  }
  const names = model.instances.flatMap((inst) => vipProtocols(inst).map((p) => p.name));
  return [
    { path: 'bird/intentlb.conf', content: w.toString() },
    { path: `bird/${VIP_STATE_FILE}`, content: vipStateText(allDisabled(names)) },
  ];
};

/** The device protocol, a static protocol per instance and family, BFD and the export filter. */
function renderRoutes(model: Model, bgp: Bgp): string {
  const protocols = model.instances.flatMap((inst) => vipProtocols(inst).map((p) => ({ inst, p })));
  const w = new ConfigWriter();
  w.comment('Interface discovery only. There is deliberately no kernel protocol: the VIPs live on a', 0);
  w.comment('local interface configured by apply, and BIRD installs no routes on this node.', 0);
  w.raw('protocol device {');
  w.raw('}');

  w.blank();
  w.comment("The health checker (intentlb healthd) enables a VIP's protocols only once the local", 0);
  w.comment('HAProxy instance answers its monitor URI, and disables them when it fails. Each protocol', 0);
  w.comment(`is disabled by its constant in ${VIP_STATE_FILE}, which healthd keeps at what BIRD last`, 0);
  w.comment('confirmed (0: enabled) and which is reset to all 1 before BIRD starts: `configure` keeps', 0);
  w.comment('what is announced (a plain `disabled;` would withdraw every VIP until healthd re-enabled', 0);
  w.comment('it), and a restarted BIRD never announces a VIP this node cannot serve.', 0);
  w.raw(`include ${str(VIP_STATE_FILE)};`);
  for (const { inst, p } of protocols) {
    w.section(`protocol static ${p.name} {`);
    w.comment(`instance ${inst.name}: ${inst.services.join(', ')}`, 1);
    w.line(`disabled ${stateSymbol(p.name)};`);
    w.line(`${p.family};`);
    for (const prefix of p.prefixes) w.line(`route ${prefix} blackhole;`);
    w.raw('}');
  }

  if (bgp.bfd !== 'off') {
    w.blank();
    w.comment(`BFD (${bgp.bfd} profile): sessions are requested by the BGP protocols below.`, 0);
    w.raw('protocol bfd {');
    w.raw('}');
  }

  renderExportFilter(w, bgp);
  return w.toString();
}

function renderExportFilter(w: ConfigWriter, bgp: Bgp): void {
  w.blank();
  w.comment('Only the VIP routes leave this node, tagged as the site asks.', 0);
  w.raw(`filter ${EXPORT_FILTER} {`);
  w.line('if proto ~ "vip_*" || proto ~ "vip6_*" then {');
  for (const c of bgp.communities) {
    const [asn, value] = c.split(':');
    w.line(`bgp_community.add((${asn}, ${value}));`, 2);
  }
  if (bgp.med !== undefined) w.line(`bgp_med = ${bgp.med};`, 2);
  w.line('accept;', 2);
  w.line('}');
  w.line('reject;');
  w.raw('}');
}

function renderPeer(
  w: ConfigWriter,
  node: NodeModel,
  bgp: Bgp,
  peer: BgpPeerModel,
  families: Set<Family>,
): void {
  const session: Family = peer.address.includes(':') ? 'ipv6' : 'ipv4';
  const local = localAddress(node, session);
  w.blank();
  if (local === undefined) {
    w.comment(`peer ${peer.name} (${peer.address}) skipped: node ${node.name} has no IPv6 address`, 0);
    return;
  }
  w.raw(`protocol bgp bgp_${birdSymbol(peer.name)} {`);
  w.line(`description ${str(`peer ${peer.name}`)};`);
  w.line(`local ${local} as ${bgp.localAs};`);
  w.line(`neighbor ${peer.address} as ${peer.as};`);
  if (peer.password !== undefined) w.line(`password ${str(peer.password)};`);
  w.line(`hold time ${HOLD_TIME_S};`);
  w.line(`keepalive time ${KEEPALIVE_TIME_S};`);
  w.line(`connect delay time ${CONNECT_DELAY_S};`);
  w.line(`connect retry time ${CONNECT_RETRY_S};`);
  w.line(`error wait time ${ERROR_WAIT_S.join(', ')};`);
  w.line(`error forget time ${ERROR_FORGET_S};`);
  if (bgp.bfd !== 'off') {
    const { intervalMs, multiplier } = BFD_PROFILES[bgp.bfd];
    w.line(`bfd { interval ${duration(intervalMs)}; multiplier ${multiplier}; };`);
  }
  for (const family of (['ipv4', 'ipv6'] as const).filter((f) => families.has(f))) {
    const nextHop = family === session ? undefined : localAddress(node, family);
    // Routes of the other family ride the session as MP-BGP; their next hop must be an address of
    // that family, which BIRD cannot derive from the session's source address.
    if (family !== session && nextHop === undefined) {
      w.comment(`no ${family} channel: node ${node.name} has no ${family} address for the next hop`, 1);
      continue;
    }
    w.line(`${family} {`);
    if (nextHop !== undefined) w.line(`next hop address ${nextHop};`, 2);
    w.line('import none;', 2);
    w.line(`export filter ${EXPORT_FILTER};`, 2);
    w.line('};');
  }
  w.raw('}');
}

function localAddress(node: NodeModel, family: Family): string | undefined {
  return family === 'ipv4' ? node.address : node.address6;
}
