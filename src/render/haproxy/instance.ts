import type { InstanceModel, Model, NodeModel, ServiceModel } from '../../model/index.ts';
import { ConfigWriter, hostPort } from '../emit.ts';
import { arg, word } from '../quote/haproxy.ts';
import { SharedParts } from '../shared.ts';
import { HEADER, type NodeLayout, type RenderedFile, type Renderer } from '../types.ts';
import { renderBackend } from './backend.ts';
import { renderFrontend } from './frontend.ts';
import { instancePaths } from './paths.ts';
import { TLS_PROFILES } from './tls-profiles.ts';

const byId = new WeakMap<Model, Map<string, ServiceModel>>();

function serviceById(model: Model): Map<string, ServiceModel> {
  let m = byId.get(model);
  if (!m) {
    m = new Map(model.services.map((s) => [s.id, s]));
    byId.set(model, m);
  }
  return m;
}

/** Every HAProxy instance of the node: `haproxy/<instance>.cfg`. */
export const renderHaproxy: Renderer = (model, node, layout, shared = new SharedParts()) =>
  model.instances.map((i) => renderInstance(model, node, layout, i, shared));

/**
 * One instance's file. Only the header and the stats frontend's bind name the node; the rest is
 * the same on every node, so it comes from `shared` after the first.
 */
export function renderInstance(
  model: Model,
  node: NodeModel,
  layout: NodeLayout,
  inst: InstanceModel,
  shared = new SharedParts(),
): RenderedFile {
  const services = (): ServiceModel[] => inst.services.map((id) => serviceById(model).get(id)!);
  const w = new ConfigWriter();
  w.comment(HEADER, 0);
  w.comment(
    `site ${model.site.name}, node ${node.name}, instance ${inst.name}: ${inst.services.join(', ')}`,
    0,
  );
  w.block(
    shared.get(`haproxy/${inst.name}:head`, () => {
      const head = new ConfigWriter();
      renderGlobal(head, model, layout, inst, services());
      renderDefaults(head);
      renderMonitor(head, model, inst, services(), model.site.ha.mode === 'vrrp');
      return head.toString();
    }),
  );
  renderStatsBind(w, node, inst);
  w.include(
    shared.get(`haproxy/${inst.name}:rest`, () => {
      const rest = new ConfigWriter();
      renderStatsRest(rest, model, services());
      for (const s of services()) {
        renderFrontend(rest, s, { layout, freebind: model.site.ha.mode === 'vrrp' });
        if (s.backend.servers.length > 0) renderBackend(rest, s.backend, s.mode);
        for (const r of s.routes) renderBackend(rest, r.backend, s.mode);
      }
      return rest.toString();
    }),
  );
  return { path: `haproxy/${inst.name}.cfg`, content: w.toString() };
}

function renderGlobal(
  w: ConfigWriter,
  model: Model,
  layout: NodeLayout,
  inst: InstanceModel,
  services: ServiceModel[],
): void {
  const p = instancePaths(layout, inst.name);
  const tcpOnly = services.some((s) => s.mode === 'tcp');
  const transparent = services.some(
    (s) => s.backend.transparent || s.routes.some((r) => r.backend.transparent),
  );
  w.section('global');
  w.line('master-worker');
  w.line('default-path config');
  w.line('log stdout format raw local0 info');
  w.line(`stats socket ${arg(p.adminSocket)} mode 600 level admin expose-fd listeners`);
  w.line('stats timeout 30s');
  w.line(`server-state-file ${arg(p.stateFile)}`);
  // Old workers finish their connections after a reload, but no longer than this.
  w.line(`hard-stop-after ${tcpOnly ? '10m' : '30s'}`);
  if (model.site.instances !== 'single') w.line('nbthread 1');
  if (!transparent) {
    w.line('user haproxy');
    w.line('group haproxy');
  }
  const tls = TLS_PROFILES[model.site.tls.policy];
  if (tls.ciphers !== undefined) w.line(`ssl-default-bind-ciphers ${tls.ciphers}`);
  w.line(`ssl-default-bind-ciphersuites ${tls.ciphersuites}`);
  w.line(
    `ssl-default-bind-options ssl-min-ver ${tls.minVersion} no-tls-tickets${tls.preferServerCiphers ? '' : ' prefer-client-ciphers'}`,
  );
  if (tls.ciphers !== undefined) w.line(`ssl-default-server-ciphers ${tls.ciphers}`);
  w.line(`ssl-default-server-ciphersuites ${tls.ciphersuites}`);
  w.line(`ssl-default-server-options ssl-min-ver ${tls.minVersion} no-tls-tickets`);
  w.line('tune.ssl.default-dh-param 2048');
}

function renderDefaults(w: ConfigWriter): void {
  w.section('defaults');
  w.line('log global');
  w.line('option dontlognull');
  w.line('timeout connect 5s');
  w.line('timeout client 30s');
  w.line('timeout server 30s');
}

/**
 * The health checker's probe: a monitor URI on every VIP of the instance, failing while any
 * service of the instance has no usable server (the node cannot serve the whole VIP then).
 */
function renderMonitor(
  w: ConfigWriter,
  model: Model,
  inst: InstanceModel,
  services: ServiceModel[],
  freebind: boolean,
): void {
  const { port } = model.site.health;
  w.section(`frontend ${word(`monitor_${inst.name}`)}`);
  w.line('mode http');
  for (const a of inst.addresses) w.tokens(1, 'bind', hostPort(a, port), freebind && 'transparent');
  w.line('timeout client 5s');
  // Also the keep-alive timeout (none is set): healthd keeps one connection per VIP and asks every
  // 500 ms (render/healthd), well inside it, so the connection lasts until healthd renews it.
  w.line('timeout http-request 2s');
  monitorLines(w, model, services);
  w.line('http-request deny');
}

function monitorLines(w: ConfigWriter, model: Model, services: ServiceModel[]): void {
  w.line(`monitor-uri ${arg(model.site.health.path)}`);
  const checked = services.filter((s) => s.backend.servers.length > 0);
  // One ACL line per backend (same-name ACLs are OR'ed): a single `||` line would pass HAProxy's
  // 64-words-per-line limit on an instance serving many services.
  for (const s of checked) w.line(`acl vip_down nbsrv(${word(s.backend.name)}) lt 1`);
  if (checked.length > 0) w.line('monitor fail if vip_down');
}

/**
 * Stats page and Prometheus exporter on the node's management address, plus the monitor URI
 * again: a node-local probe (keepalived's, where the VIP may live on another node). The bind is
 * the node's own; `renderStatsRest` writes the rest, the same on every node.
 */
function renderStatsBind(w: ConfigWriter, node: NodeModel, inst: InstanceModel): void {
  w.section(`frontend ${word(`stats_${inst.name}`)}`);
  w.line('mode http');
  w.line(`bind ${hostPort(node.address, inst.statsPort)}`);
}

function renderStatsRest(w: ConfigWriter, model: Model, services: ServiceModel[]): void {
  w.line('timeout client 10s');
  w.line('timeout http-request 5s');
  const allow = model.site.management.allow;
  if (allow.length > 0) w.line(`http-request deny if !{ src ${['127.0.0.0/8', ...allow].join(' ')} }`);
  monitorLines(w, model, services);
  // The exporter reports every proxy of the instance; it is there when a service asks for it.
  if (services.some((s) => s.monitoring.prometheus))
    w.line('http-request use-service prometheus-exporter if { path /metrics }');
  w.line('stats enable');
  w.line('stats uri /stats');
  w.line('stats refresh 10s');
  w.line('stats show-node');
}
