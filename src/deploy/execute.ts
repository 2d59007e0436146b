import { messageOf } from '../errors.ts';
import type { ProcessControl } from './control.ts';
import { ActionError } from './errors.ts';
import type { Hooks } from './hooks.ts';
import { dumpState, type InstanceContext, reload, runtimeChange, verify } from './instance-actions.ts';
import { type Action, describeAction, START } from './plan.ts';
import { type NodeFlags, type NodeService, nodeService, type ServicePhase } from './services/index.ts';
import type { Store } from './store.ts';
import { addAddress, removeAddress } from './system.ts';

/** What running a plan's actions takes. */
export interface ExecuteOptions extends NodeFlags {
  store: Store;
  control: ProcessControl;
  hooks: Hooks;
  log: (line: string) => void;
  /** How long a touched instance may take to answer its monitor URI. Default 10 s. */
  verifyTimeoutMs?: number;
}

export function nodeFlags(o: NodeFlags): NodeFlags {
  return {
    manageAddresses: o.manageAddresses,
    manageFirewall: o.manageFirewall,
    anycast: o.anycast,
    ...(o.runsHealthd === undefined ? {} : { runsHealthd: o.runsHealthd }),
  };
}

/** The HAProxy instances running now, or null when process control does not answer. */
export async function instancesRunning(control: ProcessControl): Promise<Set<string> | null> {
  return (await unitsRunning(control))?.instances ?? null;
}

/** Instances and node services running now; null when not known. */
export async function unitsRunning(
  control: ProcessControl,
): Promise<{ instances: Set<string>; services: Set<string> } | null> {
  let units: Set<string>;
  try {
    units = await control.running();
  } catch {
    return null; // any failure to ask is "not known": the caller decides without it
  }
  const instances = new Set<string>();
  const services = new Set<string>();
  for (const u of units) {
    if (u.startsWith('haproxy@')) instances.add(u.slice('haproxy@'.length));
    else services.add(u);
  }
  return { instances, services };
}

/**
 * Order: addresses first and what new listeners need (a service's `before-instances` phase), then
 * instances, then removals, then what announces the VIPs (`after-instances`).
 */
const ORDER: Record<Exclude<Action['kind'], 'service'> | ServicePhase, number> = {
  'address-add': 0,
  'before-instances': 1,
  start: 2,
  reload: 2,
  runtime: 2,
  stop: 3,
  'address-remove': 4,
  'after-instances': 5,
};

function serviceOf(a: Extract<Action, { kind: 'service' }>): NodeService {
  const s = nodeService(a.service);
  if (s === undefined) throw new ActionError(`no node service ${a.service}`);
  return s;
}

/** Where an action runs in an apply; the sort is stable, so plan order holds within a step. */
export function actionOrder(a: Action): number {
  return ORDER[a.kind === 'service' ? serviceOf(a).phase : a.kind];
}

/** Runs a plan's actions in `actionOrder`; the first failure throws (the caller rolls back). */
export async function execute(
  actions: readonly Action[],
  opts: ExecuteOptions,
  next: ReadonlyMap<string, string>,
  degraded: string[],
): Promise<void> {
  const sorted = [...actions].sort((a, b) => actionOrder(a) - actionOrder(b));
  for (const a of sorted) {
    opts.log(describeAction(a));
    await executeOne(a, opts, next, degraded);
  }
}

async function executeOne(
  a: Action,
  opts: ExecuteOptions,
  next: ReadonlyMap<string, string>,
  degraded: string[],
): Promise<void> {
  const { control, hooks } = opts;
  const ctx: InstanceContext = {
    layout: opts.store.layout,
    log: opts.log,
    verifyTimeoutMs: opts.verifyTimeoutMs ?? 10_000,
  };
  switch (a.kind) {
    case 'address-add':
      if (opts.manageAddresses) await addAddress(a.address);
      return;
    case 'address-remove':
      if (opts.manageAddresses) await removeAddress(a.address);
      return;
    case 'start': {
      await hooks.before(a);
      const r = await control.start(`haproxy@${a.instance}`).catch((err: unknown) => {
        throw new ActionError(messageOf(err), { cause: err });
      });
      // Running already (an interrupted apply started it): bring it to the new file.
      if (r.already) await reload(a.instance, ctx);
      await verify(a.instance, ctx, next, degraded);
      await hooks.after(a, true);
      return;
    }
    case 'reload':
      await hooks.before(a);
      await reload(a.instance, ctx);
      await verify(a.instance, ctx, next, degraded);
      await hooks.after(a, true);
      return;
    case 'runtime': {
      await hooks.before(a);
      const done = await runtimeChange(a.instance, a.ops, ctx);
      if (!done) {
        opts.log(`  haproxy@${a.instance}: the runtime API refused a change; reloading instead`);
        await reload(a.instance, ctx);
      }
      await dumpState(a.instance, ctx);
      await verify(a.instance, ctx, next, degraded);
      await hooks.after(a, true);
      return;
    }
    case 'stop':
      // Withdraw first (the hook asks healthd), then stop: connections leave softly.
      await hooks.before(a);
      await dumpState(a.instance, ctx).catch(() => {});
      await control.stop(`haproxy@${a.instance}`);
      await hooks.after(a, true);
      return;
    case 'service':
      if (a.verb === START) {
        await control.start(serviceOf(a).name);
        return;
      }
      await serviceOf(a).act({
        layout: opts.store.layout,
        control,
        hooks,
        flags: nodeFlags(opts),
        log: opts.log,
      });
      return;
  }
}
