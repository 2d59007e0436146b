import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplyResult } from './apply.ts';
import { type ExecuteOptions, execute, instancesRunning, nodeFlags } from './execute.ts';
import { acquireLock } from './lock.ts';
import { computePlan, type Plan } from './plan.ts';
import {
  commits,
  currentGeneration,
  generationDir,
  readApplied,
  readGeneration,
  switchTo,
  writeApplied,
} from './store.ts';

/** What bringing the processes from the tree `from` back to `to` takes. */
function planBack(
  from: ReadonlyMap<string, string>,
  to: ReadonlyMap<string, string>,
  running: Set<string> | null,
  opts: ExecuteOptions,
): Plan {
  return computePlan({ next: to, installed: from, applied: from, running, ...nodeFlags(opts) });
}

/**
 * Puts the node back on a generation (the previous one after a failure, or on `--rollback`): the
 * link switches back and the processes are brought to it the same way as forward.
 */
export async function rollback(
  previous: number | null,
  failed: number,
  opts: ExecuteOptions,
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
  const plan = planBack(failedTree, back, nowRunning, opts);
  try {
    await execute(plan.actions, opts, back, []);
    log(`rolled back to generation ${previous}`);
  } catch (err) {
    log(`rollback to generation ${previous} incomplete: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `apply --rollback`: back to the generation before the applied one. */
export async function rollbackNode(opts: ExecuteOptions): Promise<ApplyResult> {
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
    const plan = planBack(from, to, running, opts);
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
    writeApplied(store, {
      generation: target,
      revision,
      at: new Date().toISOString(),
      previous: current,
      ...commits(rec?.previousCommit, rec?.commit),
    });
    return { ok: true, plan, generation: target, degraded };
  } finally {
    release();
  }
}
