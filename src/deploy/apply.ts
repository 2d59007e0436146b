import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isMissing } from '../errors.ts';
import { writeAtomic } from '../fs/atomic.ts';
import type { RenderedFile } from '../render/types.ts';
import { type ExecuteOptions, execute, nodeFlags, unitsRunning } from './execute.ts';
import { acquireLock } from './lock.ts';
import { type Action, computePlan, type Plan } from './plan.ts';
import { rollback } from './rollback.ts';
import {
  type AppliedRecord,
  commits,
  currentGeneration,
  ensureRuntimeDirs,
  generationDir,
  prune,
  readApplied,
  readGeneration,
  type Store,
  switchTo,
  writeApplied,
  writeGeneration,
} from './store.ts';
import { validateDir } from './validate.ts';

export interface ApplyOptions extends ExecuteOptions {
  /** Check every file with the real tools before switching (default true). */
  validate?: boolean;
  /** The site commit being applied, recorded in applied.json. */
  commit?: string;
  /**
   * Checked under the deploy lock before anything is planned: a reason to refuse, or null. Pull
   * mode refuses a commit older than the one the node runs, with the lock a rollout also takes.
   */
  precondition?: (applied: AppliedRecord | null) => string | null;
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
    const refusal = opts.precondition?.(appliedRec) ?? null;
    if (refusal !== null) {
      return {
        ok: false,
        plan: { files: [], actions: [] },
        generation: installedGen,
        error: refusal,
        degraded: [],
      };
    }
    const applied =
      appliedRec === null ? new Map<string, string>() : readGeneration(store, appliedRec.generation);
    const next = tree(files);
    const units = await unitsRunning(opts.control);
    const running = units?.instances ?? null;
    const plan = computePlan({
      next,
      installed,
      applied,
      running,
      servicesRunning: units?.services ?? null,
      ...nodeFlags(opts),
    });
    if (plan.files.length === 0 && plan.actions.length === 0) {
      log('nothing to do: the node runs what the site says');
      if (appliedRec === null || appliedRec.generation !== installedGen) {
        writeApplied(store, {
          generation: installedGen!,
          revision,
          at: new Date().toISOString(),
          previous: appliedRec?.generation ?? null,
          ...commits(opts.commit, appliedRec?.commit),
        });
      } else if (opts.commit !== undefined && appliedRec.commit !== opts.commit) {
        // The same files from another commit (a change elsewhere in the repository): record it.
        writeApplied(store, { ...appliedRec, commit: opts.commit });
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
      ...commits(opts.commit, previous !== gen ? appliedRec?.commit : appliedRec?.previousCommit),
    });
    writeInstanceRecord(store, plan.actions);
    prune(store);
    return { ok: true, plan, generation: gen, degraded };
  } finally {
    release();
  }
}

/** The last action per instance, for `intentlb status`. */
function writeInstanceRecord(store: Store, actions: readonly Action[]): void {
  const path = join(store.layout.state, 'instances.json');
  let rec: Record<string, { action: string; at: string; result: string }> = {};
  try {
    rec = JSON.parse(readFileSync(path, 'utf8')) as typeof rec;
  } catch (err) {
    // first apply, or a record cut short: written anew
    if (!isMissing(err) && !(err instanceof SyntaxError)) throw err;
  }
  const at = new Date().toISOString();
  for (const a of actions) {
    if (a.kind === 'start' || a.kind === 'reload' || a.kind === 'runtime')
      rec[a.instance] = { action: a.kind, at, result: 'ok' };
    if (a.kind === 'stop') delete rec[a.instance];
  }
  writeAtomic(path, `${JSON.stringify(rec, null, 2)}\n`);
}
