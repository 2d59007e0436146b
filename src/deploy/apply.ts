import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { instancePaths } from '../render/haproxy/paths.ts';
import type { RenderedFile } from '../render/types.ts';
import { BirdClient } from '../runtime/bird-client.ts';
import { HaproxyClient, MasterClient } from '../runtime/haproxy-client.ts';
import type { ProcessControl } from './control.ts';
import type { RuntimeOp } from './haproxy-diff.ts';
import type { Hooks } from './hooks.ts';
import { acquireLock } from './lock.ts';
import { type Action, computePlan, describeAction, type Plan } from './plan.ts';
import {
  currentGeneration,
  ensureRuntimeDirs,
  generationDir,
  prune,
  readApplied,
  readGeneration,
  type Store,
  switchTo,
  writeApplied,
  writeAtomic,
  writeGeneration,
} from './store.ts';
import { addAddress, loadNftables, monitorEndpoint, removeAddress, waitServing } from './system.ts';
import { birdSocket, socketAnswers } from './units.ts';
import { validateDir } from './validate.ts';

export interface ApplyOptions {
  store: Store;
  control: ProcessControl;
  hooks: Hooks;
  /** Check every file with the real tools before switching (default true). */
  validate?: boolean;
  /** Add and remove the VIPs on `lo` (anycast sites). */
  manageAddresses: boolean;
  /** Load the generated nftables ruleset. */
  manageFirewall: boolean;
  /** The node runs BIRD and healthd. */
  anycast: boolean;
  log: (line: string) => void;
  /** How long a touched instance may take to answer its monitor URI. Default 10 s. */
  verifyTimeoutMs?: number;
}

export interface ApplyResult {
  ok: boolean;
  plan: Plan;
  generation: number | null;
  /** What failed (the node was rolled back), when not ok. */
  error?: string;
  rolledBack?: boolean;
  /** Instances with no usable server behind them (monitor URI answered 503). */
  degraded: string[];
}

/** An action that failed; the message names the instance or service and the tool's answer. */
export class ActionError extends Error {}

function tree(files: readonly RenderedFile[]): Map<string, string> {
  return new Map(files.map((f) => [f.path, f.content]));
}

/**
 * Converges the node to `files` (rendered for this store's layout): lock, plan, write a new
 * generation, validate it, switch, then start/reload/runtime-change/stop what changed and verify
 * every touched instance serves. Any failure after the switch rolls back to the previous
 * generation, processes included.
 */
export async function applyNode(
  files: readonly RenderedFile[],
  revision: string,
  opts: ApplyOptions,
): Promise<ApplyResult> {
  const { store, log } = opts;
  const release = acquireLock(join(store.layout.state, 'apply.lock'));
  try {
    ensureRuntimeDirs(store);
    const installedGen = currentGeneration(store);
    const installed = readGeneration(store, installedGen);
    const appliedRec = readApplied(store);
    const applied =
      appliedRec === null ? new Map<string, string>() : readGeneration(store, appliedRec.generation);
    const next = tree(files);
    const running = await instancesRunning(opts.control);
    const plan = computePlan({ next, installed, applied, running, ...flags(opts) });
    if (plan.files.length === 0 && plan.actions.length === 0) {
      log('nothing to do: the node runs what the site says');
      if (appliedRec === null || appliedRec.generation !== installedGen) {
        writeApplied(store, {
          generation: installedGen!,
          revision,
          at: new Date().toISOString(),
          previous: appliedRec?.generation ?? null,
        });
      }
      return { ok: true, plan, generation: installedGen, degraded: [] };
    }

    // A new generation when files changed; otherwise the installed one is finished (an apply that
    // died half-way, or an instance that is not running).
    let gen = installedGen;
    if (plan.files.length > 0 || installedGen === null) {
      gen = writeGeneration(store, files);
      if (opts.validate !== false) {
        // Only what changed: the rest passed when it was installed.
        const changed = plan.files.filter((f) => f.change !== 'removed').map((f) => f.path);
        const v = await validateDir(
          generationDir(store, gen),
          installedGen === null ? files.map((f) => f.path) : changed,
        );
        if (v.rejections.length > 0) {
          rmSync(generationDir(store, gen), { recursive: true, force: true });
          const what = v.rejections.map((r) => `${r.path}: rejected by ${r.tool}:\n${r.output}`).join('\n\n');
          return {
            ok: false,
            plan,
            generation: installedGen,
            error: `validation failed; nothing changed\n${what}`,
            degraded: [],
          };
        }
        for (const t of v.skipped) log(`warning: ${t} is not installed; its files were not validated`);
      }
      switchTo(store, gen);
      log(`installed generation ${gen} (${store.layout.etc})`);
    }
    const previous = appliedRec?.generation ?? installedGen;
    const degraded: string[] = [];
    try {
      await execute(plan.actions, opts, next, degraded);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      log(`failed: ${why}`);
      await rollback(previous, gen!, opts, running);
      return { ok: false, plan, generation: previous, error: why, rolledBack: true, degraded };
    }
    writeApplied(store, {
      generation: gen!,
      revision,
      at: new Date().toISOString(),
      previous: previous !== gen ? previous : (appliedRec?.previous ?? null),
    });
    writeInstanceRecord(store, plan.actions);
    prune(store);
    return { ok: true, plan, generation: gen, degraded };
  } finally {
    release();
  }
}

/**
 * Puts the node back on a generation (the previous one after a failure, or on `--rollback`): the
 * link switches back and the processes are brought to it the same way as forward.
 */
async function rollback(
  previous: number | null,
  failed: number,
  opts: ApplyOptions,
  running: Set<string> | null,
): Promise<void> {
  const { store, log } = opts;
  const failedTree = readGeneration(store, failed);
  if (previous === null) {
    // First install failed: stop what was started, leave nothing behind.
    rmSync(store.layout.etc, { force: true });
    for (const path of failedTree.keys()) {
      const m = /^haproxy\/(.+)\.cfg$/.exec(path);
      if (m !== null && !(running?.has(m[1]!) ?? false))
        await opts.control.stop(`haproxy@${m[1]}`).catch(() => {});
    }
    log('rolled back: nothing was installed before; started instances stopped');
    return;
  }
  switchTo(store, previous);
  const back = readGeneration(store, previous);
  const nowRunning = await instancesRunning(opts.control);
  const plan = computePlan({
    next: back,
    installed: failedTree,
    applied: failedTree,
    running: nowRunning,
    ...flags(opts),
  });
  try {
    await execute(plan.actions, opts, back, []);
    log(`rolled back to generation ${previous}`);
  } catch (err) {
    log(`rollback to generation ${previous} incomplete: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `apply --rollback`: back to the generation before the applied one. */
export async function rollbackNode(opts: ApplyOptions): Promise<ApplyResult> {
  const { store } = opts;
  const release = acquireLock(join(store.layout.state, 'apply.lock'));
  try {
    const rec = readApplied(store);
    const current = rec?.generation ?? currentGeneration(store);
    const target = rec?.previous ?? null;
    const empty: Plan = { files: [], actions: [] };
    if (current === null || target === null || !existsSync(generationDir(store, target))) {
      return {
        ok: false,
        plan: empty,
        generation: current,
        error: 'no previous generation to roll back to',
        degraded: [],
      };
    }
    const from = readGeneration(store, current);
    const to = readGeneration(store, target);
    const running = await instancesRunning(opts.control);
    const plan = computePlan({
      next: to,
      installed: from,
      applied: from,
      running,
      ...flags(opts),
    });
    switchTo(store, target);
    const degraded: string[] = [];
    try {
      await execute(plan.actions, opts, to, degraded);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      await rollback(current, target, opts, running);
      return { ok: false, plan, generation: current, error: why, rolledBack: true, degraded };
    }
    const revision =
      (JSON.parse(to.get('manifest.json') ?? '{}') as { intent_revision?: string }).intent_revision ?? '';
    writeApplied(store, { generation: target, revision, at: new Date().toISOString(), previous: current });
    return { ok: true, plan, generation: target, degraded };
  } finally {
    release();
  }
}

function flags(o: ApplyOptions): { manageAddresses: boolean; manageFirewall: boolean; anycast: boolean } {
  return { manageAddresses: o.manageAddresses, manageFirewall: o.manageFirewall, anycast: o.anycast };
}

async function instancesRunning(control: ProcessControl): Promise<Set<string> | null> {
  try {
    const units = await control.running();
    return new Set([...units].filter((u) => u.startsWith('haproxy@')).map((u) => u.slice('haproxy@'.length)));
  } catch {
    return null;
  }
}

/** Order: addresses and firewall first (new listeners need them), then instances, then removals. */
const ORDER: Record<string, number> = {
  'address-add': 0,
  service: 1,
  start: 2,
  reload: 2,
  runtime: 2,
  stop: 3,
  'address-remove': 4,
};

async function execute(
  actions: readonly Action[],
  opts: ApplyOptions,
  next: ReadonlyMap<string, string>,
  degraded: string[],
): Promise<void> {
  const sorted = [...actions].sort((a, b) => serviceOrder(a) - serviceOrder(b));
  for (const a of sorted) {
    opts.log(describeAction(a));
    await executeOne(a, opts, next, degraded);
  }
}

function serviceOrder(a: Action): number {
  const base = ORDER[a.kind] ?? 9;
  // nftables before the instances; BIRD, healthd and keepalived after them (add, serve, announce).
  if (a.kind === 'service') return a.service === 'nftables' ? 1 : 5;
  return base;
}

async function executeOne(
  a: Action,
  opts: ApplyOptions,
  next: ReadonlyMap<string, string>,
  degraded: string[],
): Promise<void> {
  const { store, control, hooks } = opts;
  const layout = store.layout;
  switch (a.kind) {
    case 'address-add':
      if (opts.manageAddresses) await addAddress(a.address);
      return;
    case 'address-remove':
      if (opts.manageAddresses) await removeAddress(a.address);
      return;
    case 'start': {
      await hooks.before(a);
      const r = await control.start(`haproxy@${a.instance}`).catch((err: Error) => {
        throw new ActionError(err.message);
      });
      // Running already (an interrupted apply started it): bring it to the new file.
      if (r.already) await reload(a.instance, opts);
      await verify(a.instance, opts, next, degraded);
      await hooks.after(a, true);
      return;
    }
    case 'reload':
      await hooks.before(a);
      await reload(a.instance, opts);
      await verify(a.instance, opts, next, degraded);
      await hooks.after(a, true);
      return;
    case 'runtime': {
      await hooks.before(a);
      const done = await runtimeChange(a.instance, a.ops, opts);
      if (!done) {
        opts.log(`  haproxy@${a.instance}: the runtime API refused a change; reloading instead`);
        await reload(a.instance, opts);
      }
      await dumpState(a.instance, opts);
      await verify(a.instance, opts, next, degraded);
      await hooks.after(a, true);
      return;
    }
    case 'stop':
      // Withdraw first (the hook asks healthd), then stop: connections leave softly.
      await hooks.before(a);
      await dumpState(a.instance, opts).catch(() => {});
      await control.stop(`haproxy@${a.instance}`);
      await hooks.after(a, true);
      return;
    case 'service':
      await serviceAction(a.service, opts, layout);
      return;
  }
}

async function reload(instance: string, opts: ApplyOptions): Promise<void> {
  const p = instancePaths(opts.store.layout, instance);
  await dumpState(instance, opts).catch(() => {});
  try {
    await new MasterClient({ path: p.masterSocket }).reload({ timeoutMs: 15_000 });
  } catch (err) {
    throw new ActionError(
      `haproxy@${instance}: reload failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Saves the servers' runtime state (drain, maint, weights) so the next reload or start keeps it. */
async function dumpState(instance: string, opts: ApplyOptions): Promise<void> {
  const p = instancePaths(opts.store.layout, instance);
  if (!existsSync(p.adminSocket)) return;
  const text = await new HaproxyClient({ path: p.adminSocket }, { timeoutMs: 3000 }).command(
    'show servers state',
  );
  if (text.startsWith('1\n') || text.startsWith('1 ')) writeAtomic(p.stateFile, text);
}

/** Applies runtime API operations; false when HAProxy refused one (the caller reloads instead). */
async function runtimeChange(
  instance: string,
  ops: readonly RuntimeOp[],
  opts: ApplyOptions,
): Promise<boolean> {
  const client = new HaproxyClient(
    { path: instancePaths(opts.store.layout, instance).adminSocket },
    { timeoutMs: 3000 },
  );
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'add':
          await client.addServer(op.backend, op.server, {
            address: op.address,
            port: op.port,
            options: op.options,
            enableHealth: op.options.includes('check'),
          });
          break;
        case 'weight':
          await client.setServerWeight(op.backend, op.server, op.weight);
          break;
        case 'addr':
          await client.setServerAddr(op.backend, op.server, op.address, op.port);
          break;
        case 'del':
          // Out of rotation at once; deleted when its last connection has gone (bounded wait).
          await client.setServerState(op.backend, op.server, 'maint');
          for (let i = 0; ; i++) {
            try {
              await client.delServer(op.backend, op.server);
              break;
            } catch (err) {
              if (i >= 30) throw err;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          break;
      }
      opts.log(`  haproxy@${instance}: ${describeRuntime(op)}`);
    }
    return true;
  } catch (err) {
    opts.log(`  haproxy@${instance}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

function describeRuntime(op: RuntimeOp): string {
  if (op.op === 'weight') return `${op.backend}/${op.server} weight ${op.weight}`;
  if (op.op === 'addr') return `${op.backend}/${op.server} addr ${op.address}:${op.port}`;
  return `${op.op} server ${op.backend}/${op.server}`;
}

async function verify(
  instance: string,
  opts: ApplyOptions,
  next: ReadonlyMap<string, string>,
  degraded: string[],
): Promise<void> {
  const config = next.get(`haproxy/${instance}.cfg`) ?? '';
  const ep = monitorEndpoint(config, instance);
  if (ep === null) throw new ActionError(`haproxy@${instance}: no monitor frontend in its configuration`);
  const status = await waitServing(ep, opts.verifyTimeoutMs ?? 10_000);
  if (status === null) {
    throw new ActionError(
      `haproxy@${instance}: its monitor URI http://${ep.host}:${ep.port}${ep.path} did not answer`,
    );
  }
  if (status === 503) {
    degraded.push(instance);
    opts.log(`  warning: haproxy@${instance} serves, but no server behind it is up (monitor URI: 503)`);
  }
}

async function serviceAction(
  service: string,
  opts: ApplyOptions,
  layout: ApplyOptions['store']['layout'],
): Promise<void> {
  switch (service) {
    case 'nftables':
      if (opts.manageFirewall) await loadNftables(`${layout.etc}/nftables/intentlb.nft`);
      return;
    case 'bird': {
      if (await socketAnswers(birdSocket(layout))) {
        const bird = await BirdClient.connect(birdSocket(layout));
        try {
          const r = await bird.configure();
          if (!r.ok) throw new ActionError(`bird configure: ${r.message}`);
        } finally {
          bird.close();
        }
        // BIRD's configure puts every VIP protocol back to `disabled`: healthd re-enables what is
        // healthy now rather than at its next poll.
        await opts.hooks.birdReconfigured();
      } else if (opts.control.kind === 'supervisor') {
        await opts.control.start('bird');
      } else {
        opts.log(
          `  note: BIRD's socket ${birdSocket(layout)} does not answer; include ${layout.etc}/bird/intentlb.conf in the node's BIRD and start it`,
        );
      }
      return;
    }
    case 'healthd':
      await opts.hooks.healthdConfigChanged();
      return;
    case 'keepalived': {
      const pidFile = `${layout.run}/keepalived.pid`;
      if (existsSync(pidFile)) {
        process.kill(Number.parseInt(readFileSync(pidFile, 'utf8'), 10), 'SIGHUP');
      } else if (opts.control.kind === 'supervisor') {
        await opts.control.start('keepalived');
      }
      return;
    }
  }
}

/** The last action per instance, for `intentlb status`. */
function writeInstanceRecord(store: Store, actions: readonly Action[]): void {
  const path = join(store.layout.state, 'instances.json');
  let rec: Record<string, { action: string; at: string; result: string }> = {};
  try {
    rec = JSON.parse(readFileSync(path, 'utf8')) as typeof rec;
  } catch {
    // first apply
  }
  const at = new Date().toISOString();
  for (const a of actions) {
    if (a.kind === 'start' || a.kind === 'reload' || a.kind === 'runtime')
      rec[a.instance] = { action: a.kind, at, result: 'ok' };
    if (a.kind === 'stop') delete rec[a.instance];
  }
  writeAtomic(path, `${JSON.stringify(rec, null, 2)}\n`);
}
