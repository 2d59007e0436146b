import type { Model, NodeModel, ServiceModel } from '../../model/index.ts';
import { HEALTHD_PORT } from '../../model/node-ports.ts';
import { FAILOVER_DIR, HA_MODES } from '../../vocabulary/ha-modes.ts';
import { birdPaths } from '../bird/paths.ts';
import { vipProtocols } from '../bird/protocols.ts';
import { instancePaths } from '../haproxy/paths.ts';
import { HEADER, type Renderer } from '../types.ts';
import { emitYaml } from '../yaml-emit.ts';

export { HEALTHD_PORT };

/**
 * How long healthd waits after BIRD confirmed a withdraw before it reports it done (`hold`,
 * `drain`, removal): time for the peers to move traffic away before a disruptive change.
 */
const CONVERGE_MS = 500;

/** A failover script that failed (an API hiccup) runs again this often until it works or is replaced. */
const SCRIPT_RETRY_MS = 5000;

/**
 * `healthd.yaml`: what the node's health checker watches. One entry per HAProxy instance: its
 * VIP prefixes, the BIRD protocol announcing them, the monitor URI probe, its exec checks and the
 * pid file; and where the daemon's control socket lives (deploy asks it to hold a VIP before a
 * restart). With `ha.mode: script` the hooks are the platform's failover script and the peers are
 * the nodes listed before this one, which it stands by for.
 */
export const renderHealthd: Renderer = (model, node, layout) => {
  const { port, path } = model.site.health;
  const floating = HA_MODES[model.site.ha.mode].floating;
  const byId = new Map(model.services.map((s) => [s.id, s]));
  const vips = model.instances.map((i) => {
    const probe = i.addresses.find((a) => !a.includes(':')) ?? i.addresses[0]!;
    const services = i.services.map((id) => byId.get(id)!);
    const exec = execChecks(model, services);
    return {
      name: i.name,
      prefixes: i.addresses.map((a) => `${a}/${a.includes(':') ? 128 : 32}`),
      protocols: vipProtocols(i).map((p) => p.name),
      // A floating VIP may live on another node: probe this node's own instance instead.
      check: floating
        ? { kind: 'http', address: node.address, port: i.statsPort, path }
        : { kind: 'http', address: probe, port, path },
      ...timing(services, model),
      pidfile: instancePaths(layout, i.name).pidFile,
      ...(exec.length > 0 && { exec }),
    };
  });
  const doc = {
    node: node.name,
    mode: model.site.ha.mode,
    bird: {
      socket: birdPaths(layout).socket,
      // Anycast: the state file BIRD's configuration includes (ADR 0026).
      ...(model.site.ha.mode === 'anycast' && { vip_state: birdPaths(layout).state }),
    },
    control: `${layout.run}/healthd.sock`,
    state: `${layout.state}/healthd-state.json`,
    listen: { address: node.address, port: HEALTHD_PORT },
    converge_ms: CONVERGE_MS,
    hooks: hooks(model, node, layout.etc),
    ...peers(model, node),
    vips,
  };
  const content = `# ${HEADER}\n${emitYaml(doc)}`;
  return [{ path: 'healthd.yaml', content }];
};

/**
 * The VIP's cadence. An instance serving several services (per-group, single) takes the most
 * careful of their settings: the shortest interval and timeout (so every service's limit holds:
 * each timeout is below its own interval, so the shortest timeout is below the shortest interval),
 * the longest rise and hold-down, the shortest fall.
 */
function timing(services: readonly ServiceModel[], model: Model) {
  const hs = services.length > 0 ? services.map((s) => s.health) : [model.site.health];
  return {
    interval_ms: Math.min(...hs.map((h) => h.intervalMs)),
    timeout_ms: Math.min(...hs.map((h) => h.timeoutMs)),
    rise: Math.max(...hs.map((h) => h.rise)),
    fall: Math.min(...hs.map((h) => h.fall)),
    hold_down_ms: Math.max(...hs.map((h) => h.holdDownMs)),
  };
}

/** Each service's exec check: the platform's program and fixed arguments, then the service's own. */
function execChecks(model: Model, services: readonly ServiceModel[]) {
  const out: { name: string; argv: string[] }[] = [];
  for (const s of services) {
    const exec = s.health.exec;
    const command = exec && model.site.checkCommands.find((c) => c.name === exec.command);
    if (exec === undefined || command === undefined) continue;
    out.push({ name: command.name, argv: [command.path, ...command.args, ...exec.args] });
  }
  return out;
}

function hooks(model: Model, node: NodeModel, etc: string) {
  const script = model.site.ha.mode === 'script' ? model.site.ha.script : undefined;
  if (script === undefined) return { on_up: [], on_down: [], timeout_ms: 5000 };
  const program = `${etc}/${FAILOVER_DIR}/${script.name}`;
  return {
    on_up: [[program, 'promote']],
    on_down: [[program, 'demote']],
    timeout_ms: script.timeoutMs,
    retry_ms: SCRIPT_RETRY_MS,
    env: {
      INTENTLB_NODE: node.name,
      ...(node.interface !== undefined && { INTENTLB_INTERFACE: node.interface }),
    },
  };
}

/** Script failover: the nodes before this one in site.yaml, each a peer it stands by for. */
function peers(model: Model, node: NodeModel) {
  if (model.site.ha.mode !== 'script') return {};
  const index = model.site.nodes.findIndex((n) => n.name === node.name);
  const preferred = model.site.nodes.slice(0, Math.max(0, index));
  const { intervalMs, timeoutMs } = model.site.health;
  return {
    peers: {
      interval_ms: intervalMs,
      timeout_ms: timeoutMs,
      nodes: preferred.map((n) => ({ name: n.name, address: n.address, port: HEALTHD_PORT })),
    },
  };
}
