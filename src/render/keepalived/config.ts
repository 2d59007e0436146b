import type { HaModel, InstanceModel, Model, NodeModel } from '../../model/index.ts';
import { ConfigWriter, hostPort } from '../emit.ts';
import { script, word } from '../quote/keepalived.ts';
import { HEADER, type Renderer } from '../types.ts';

type Vrrp = NonNullable<HaModel['vrrp']>;

/** The highest VRRP router id; `check` must reject a site whose instances go past it. */
export const MAX_VIRTUAL_ROUTER_ID = 255;
/** Priority of the first node; 255 is reserved for an address owner, which no node is. */
const TOP_PRIORITY = 200;
const CHECK_INTERVAL_S = 2;
const CHECK_TIMEOUT_S = 2;
const CHECK_RISE = 2;
const CHECK_FALL = 2;

/**
 * `keepalived/keepalived.conf` for VRRP sites: one vrrp_instance per HAProxy instance, every
 * node starting as BACKUP with a priority from its place in site.yaml (the first node wins,
 * and takes the VIPs back when it returns). Other HA modes run no keepalived: no file.
 */
export const renderKeepalived: Renderer = (model, node) => {
  const vrrp = model.site.ha.vrrp;
  if (model.site.ha.mode !== 'vrrp' || vrrp === undefined) return [];
  const instances = [...model.instances].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const last = vrrp.routerIdBase + instances.length - 1;
  if (last > MAX_VIRTUAL_ROUTER_ID) {
    // `check` must reject such a site; reaching this point is a bug, and the ids would be garbage.
    throw new Error(
      `keepalived: ${instances.length} instances from router id ${vrrp.routerIdBase} exceed ${MAX_VIRTUAL_ROUTER_ID}`,
    );
  }
  const w = new ConfigWriter();
  w.comment(HEADER, 0);
  w.comment(`site ${model.site.name}, node ${node.name}: one VRRP instance per HAProxy instance`, 0);
  w.section('global_defs {');
  w.line(`router_id ${word(node.name)}`);
  // VRRPv3 (RFC 5798) for both families: IPv6 needs it anyway, and it takes sub-second adverts.
  w.line('vrrp_version 3');
  // After a split brain (both nodes MASTER while the path between them was down) the one that
  // yields first sends an advert, so the winner repeats its gratuitous ARP / unsolicited NA: the
  // router's neighbour entry still points at the loser, and without this it stays there until the
  // entry times out (3 s of lost traffic in the lab, `lab link lb1 blackhole` then `up`).
  w.line('vrrp_higher_prio_send_advert true');
  w.line('enable_script_security');
  w.line('script_user root');
  w.raw('}');
  instances.forEach((inst, index) => {
    renderScript(w, model, node, inst);
    renderInstance(w, model, node, vrrp, inst, vrrp.routerIdBase + index);
  });
  return [{ path: 'keepalived/keepalived.conf', content: w.toString() }];
};

/**
 * The instance's HAProxy monitor URI, failing while a service of the instance has no server; a
 * failing script puts the instance in FAULT so the VIPs move to a node that can serve them.
 * The probe goes to the instance's node-local stats frontend (the VIP may live on the other
 * node), so every node judges its own HAProxy.
 */
function renderScript(w: ConfigWriter, model: Model, node: NodeModel, inst: InstanceModel): void {
  const url = `http://${hostPort(node.address, inst.statsPort)}${model.site.health.path}`;
  w.section(`vrrp_script ${word(scriptName(inst))} {`);
  w.line(`script ${script(['/usr/bin/curl', '-fsS', '--max-time', '1', '-o', '/dev/null', url])}`);
  w.line(`interval ${CHECK_INTERVAL_S}`);
  w.line(`timeout ${CHECK_TIMEOUT_S}`);
  w.line(`rise ${CHECK_RISE}`);
  w.line(`fall ${CHECK_FALL}`);
  w.raw('}');
}

function renderInstance(
  w: ConfigWriter,
  model: Model,
  node: NodeModel,
  vrrp: Vrrp,
  inst: InstanceModel,
  routerId: number,
): void {
  // A VRRP instance speaks one family; the VIPs of the other ride along unannounced (excluded).
  const v4 = inst.addresses.filter((a) => !a.includes(':'));
  const v6 = inst.addresses.filter((a) => a.includes(':'));
  const ipv6Only = v4.length === 0;
  w.section(`vrrp_instance ${word(inst.name)} {`);
  w.comment(`services: ${inst.services.join(', ')}`, 1);
  w.line('state BACKUP');
  w.line(`interface ${word(vrrp.interface)}`);
  w.line(`virtual_router_id ${routerId}`);
  w.line(`priority ${priority(model, node)}`);
  w.line(`advert_int ${vrrp.advertInt}`);
  if (vrrp.unicast) {
    const own = ipv6Only ? node.address6 : node.address;
    const peers = model.site.nodes
      .filter((n) => n.name !== node.name)
      .map((n) => (ipv6Only ? n.address6 : n.address))
      .filter((a): a is string => a !== undefined);
    if (own !== undefined) w.line(`unicast_src_ip ${own}`);
    if (peers.length > 0) {
      w.line('unicast_peer {');
      for (const p of peers) w.line(p, 2);
      w.line('}');
    }
  }
  w.line('virtual_ipaddress {');
  for (const a of ipv6Only ? v6 : v4) w.line(`${a}/${a.includes(':') ? 128 : 32}`, 2);
  w.line('}');
  if (!ipv6Only && v6.length > 0) {
    w.line('virtual_ipaddress_excluded {');
    for (const a of v6) w.line(`${a}/128`, 2);
    w.line('}');
  }
  w.line('track_script {');
  w.line(word(scriptName(inst)), 2);
  w.line('}');
  w.raw('}');
}

/** First node 200, then 10 lower per node (finer steps when there are more than 20 nodes). */
function priority(model: Model, node: NodeModel): number {
  const n = model.site.nodes.length;
  const step = n <= 20 ? 10 : Math.floor((TOP_PRIORITY - 1) / n);
  const index = model.site.nodes.findIndex((x) => x.name === node.name);
  return TOP_PRIORITY - Math.max(0, index) * step;
}

function scriptName(inst: InstanceModel): string {
  return `chk_${inst.name}`;
}
