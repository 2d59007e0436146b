import { vipProtocols } from '../bird/protocols.ts';
import { instancePaths } from '../haproxy/paths.ts';
import { HEADER, type Renderer } from '../types.ts';
import { emitYaml } from '../yaml-emit.ts';

/** Port of the health checker's HTTP `/metrics` and `/status` on the node's address. */
export const HEALTHD_PORT = 9300;

/** Check cadence of the health checker: fast enough for sub-second withdraws, damped against flaps. */
const CHECK = { interval_ms: 500, timeout_ms: 400, rise: 3, fall: 2, hold_down_ms: 5000 };

/**
 * How long healthd waits after BIRD confirmed a withdraw before it reports it done (`hold`,
 * `drain`, removal): time for the peers to move traffic away before a disruptive change.
 */
const CONVERGE_MS = 500;

/**
 * `healthd.yaml`: what the node's health checker watches. One entry per HAProxy instance: its
 * VIP prefixes, the BIRD protocol announcing them, the monitor URI probe and the pid file; and
 * where the daemon's control socket lives (deploy asks it to hold a VIP before a restart).
 */
export const renderHealthd: Renderer = (model, node, layout) => {
  const { port, path } = model.site.health;
  const vips = model.instances.map((i) => {
    const probe = i.addresses.find((a) => !a.includes(':')) ?? i.addresses[0]!;
    return {
      name: i.name,
      prefixes: i.addresses.map((a) => `${a}/${a.includes(':') ? 128 : 32}`),
      protocols: vipProtocols(i).map((p) => p.name),
      check: { kind: 'http', address: probe, port, path },
      ...CHECK,
      pidfile: instancePaths(layout, i.name).pidFile,
    };
  });
  const doc = {
    node: node.name,
    mode: model.site.ha.mode,
    bird: { socket: `${layout.run}/bird.ctl` },
    control: `${layout.run}/healthd.sock`,
    state: `${layout.state}/healthd-state.json`,
    listen: { address: node.address, port: HEALTHD_PORT },
    converge_ms: CONVERGE_MS,
    hooks: { on_up: [], on_down: [], timeout_ms: 5000 },
    vips,
  };
  const content = `# ${HEADER}\n${emitYaml(doc)}`;
  return [{ path: 'healthd.yaml', content }];
};
