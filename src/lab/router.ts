/**
 * The lab router at run time, whichever daemon plays it (a descriptor per router kind): started
 * in the router's namespace, reconfigured by `lab apply`, and (BGP mode) waited for until the
 * nodes announce every VIP.
 */
import type { Model } from '../model/index.ts';
import { familyOf } from '../vocabulary/strings.ts';
import { birdRouter } from './bird-router.ts';
import { frrRouter } from './frr-router.ts';
import type { LabProcess, SpawnSpec } from './processes.ts';
import { routerSessions } from './router-config.ts';
import type { RouterDriver, RouterKind, RouterView } from './router-driver.ts';
import type { LabState } from './state.ts';

const BGP_SETTLE_MS = 20_000;

export const ROUTERS: Record<RouterKind, RouterDriver> = { bird: birdRouter, frr: frrRouter };

/** The router of a lab (labs from before `--router` run BIRD). */
export function routerOf(s: Pick<LabState, 'router'>): RouterDriver {
  return ROUTERS[s.router.kind ?? 'bird'];
}

export function startRouter(
  s: LabState,
  model: Model,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  return routerOf(s).start(s, model, spawn);
}

/** `lab apply`: the router's configuration follows the site. */
export function reconfigureRouter(
  s: LabState,
  model: Model,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  return routerOf(s).reconfigure(s, model, spawn);
}

/** The router's sessions and its routes to every VIP of the lab. */
export function routerView(s: LabState): Promise<RouterView> {
  return routerOf(s).view(
    s,
    s.topology.vips.map((v) => `${v.address}/${v.prefixLength}`),
  );
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
    const view = await routerView(s).catch(() => undefined);
    if (view !== undefined) {
      const up = new Set(view.sessions.filter((x) => x.established).map((x) => x.name));
      missing.push(...sessions.filter((n) => !up.has(n)).map((n) => `BGP session ${n} is not established`));
      for (const v of s.topology.vips) {
        const family = familyOf(v.address);
        const want = nodes.filter((n) => n.addresses.some((a) => familyOf(a.address) === family)).length;
        const routes = view.routes.get(`${v.address}/${v.prefixLength}`)?.length ?? 0;
        if (routes < want)
          missing.push(`VIP ${v.address} (${v.instance}) is announced by ${routes} of ${want} nodes`);
      }
    } else missing.push(`the router (${routerOf(s).label}) does not answer`);
    if (missing.length === 0) return [];
    await new Promise((r) => setTimeout(r, 250));
  }
  return missing;
}
