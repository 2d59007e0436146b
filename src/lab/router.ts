/**
 * The lab router at run time: BIRD started in the router's namespace, reconfigured by `lab apply`,
 * and (BGP mode) waited for until the nodes announce every VIP.
 */
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateBird } from '../build/validate-tools.ts';
import type { Model } from '../model/index.ts';
import { BirdClient } from '../runtime/bird-client.ts';
import { familyOf } from '../vocabulary/strings.ts';
import { LabError } from './errors.ts';
import { isAlive, type LabProcess, type SpawnSpec, waitForLog } from './processes.ts';
import { renderRouterConfig, routerSessions } from './router-config.ts';
import type { LabState } from './state.ts';

const BIRD_READY_MS = 10_000;
const BGP_SETTLE_MS = 20_000;

/** Writes and checks the router's configuration, starts BIRD, waits for its control socket. */
export async function startRouter(
  s: LabState,
  model: Model,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  writeFileSync(s.router.config, renderRouterConfig(model, s.topology, s.routing));
  const check = await validateBird(s.router.config);
  if (!check.ok) throw new LabError(`bird rejected the router's configuration:\n${check.output}`);
  const router = s.topology.hosts.find((h) => h.role === 'router')!;
  const bird = spawn({
    kind: 'bird',
    host: 'router',
    ns: router.ns,
    // BFD detects a silent peer after 3 x 50 ms: on a busy machine a starved BIRD would take its
    // own sessions down, so the router's runs ahead of ordinary work.
    command: ['nice', '-n', '-10', 'bird', '-f', '-c', s.router.config, '-s', s.router.socket],
    log: join(s.dir, 'logs', 'router-bird.log'),
  });
  const deadline = Date.now() + BIRD_READY_MS;
  for (;;) {
    if (existsSync(s.router.socket)) {
      const ok = await BirdClient.connect(s.router.socket, { timeoutMs: 1000 }).then(
        (c) => {
          c.close();
          return true;
        },
        () => false,
      );
      if (ok) return;
    }
    if (!isAlive(bird)) await waitForLog(bird, () => false, 0, 'the router (bird)');
    if (Date.now() > deadline) {
      throw new LabError(
        `the router (bird) does not answer on ${s.router.socket} within ${BIRD_READY_MS} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `lab apply`: the router's configuration follows the site (checked first, then `configure`). */
export async function reconfigureRouter(s: LabState, model: Model): Promise<void> {
  const next = `${s.router.config}.new`;
  writeFileSync(next, renderRouterConfig(model, s.topology, s.routing));
  const check = await validateBird(next);
  if (!check.ok) {
    rmSync(next, { force: true });
    throw new LabError(`bird rejected the router's new configuration:\n${check.output}`);
  }
  renameSync(next, s.router.config);
  const c = await BirdClient.connect(s.router.socket);
  try {
    const r = await c.configure();
    if (!r.ok) throw new LabError(`the router refused its new configuration: ${r.message}`);
  } finally {
    c.close();
  }
}

/**
 * BGP mode: waits (bounded) until every session is established and every VIP is learnt from every
 * node that can announce it (a node announces a VIP once its health checker finds it serving), so
 * the lab is reachable through all nodes when `up` returns. Says what did not come.
 */
export async function settleBgp(s: LabState, model: Model): Promise<string[]> {
  const sessions = routerSessions(model).map((x) => x.name);
  const nodes = s.topology.hosts.filter((h) => h.role === 'node');
  const deadline = Date.now() + BGP_SETTLE_MS;
  let missing: string[] = [];
  while (Date.now() < deadline) {
    missing = [];
    const c = await BirdClient.connect(s.router.socket).catch(() => undefined);
    if (c !== undefined) {
      try {
        const up = new Set(
          (await c.showProtocols()).filter((p) => /Established/.test(p.info)).map((p) => p.name),
        );
        missing.push(...sessions.filter((n) => !up.has(n)).map((n) => `BGP session ${n} is not established`));
        for (const v of s.topology.vips) {
          const family = familyOf(v.address);
          const want = nodes.filter((n) => n.addresses.some((a) => familyOf(a.address) === family)).length;
          const routes = (await c.showRoute(`${v.address}/${v.prefixLength}`)).length;
          if (routes < want)
            missing.push(`VIP ${v.address} (${v.instance}) is announced by ${routes} of ${want} nodes`);
        }
      } finally {
        c.close();
      }
    } else missing.push('the router does not answer on its control socket');
    if (missing.length === 0) return [];
    await new Promise((r) => setTimeout(r, 250));
  }
  return missing;
}
