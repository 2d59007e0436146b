/**
 * From the playbook's task events to each node's outcome: a pure fold, table-tested. The events
 * come from the `intentlb_events` callback (callback.ts), one per task result of an
 * `intentlb:<step>` task.
 */
import { STEPS, type Step } from './playbook.ts';

/** One task result on one host, as the callback writes it. */
export interface TaskEvent {
  host: string;
  step: Step;
  status: 'ok' | 'failed' | 'skipped' | 'unreachable';
  rc?: number | null;
  stdout?: string;
  stderr?: string;
  msg?: string;
  /** Seconds since the epoch. */
  start?: number | null;
  end?: number;
}

export const NODE_STATES = ['applied', 'verified', 'failed', 'rolled_back', 'skipped', 'pending'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** One node's line of the pinned `rollout --format json`. */
export interface NodeResult {
  name: string;
  state: NodeState;
  revision: string;
  detail: string;
}

/** A node's result with its times (for people; not part of the JSON). */
export interface NodeOutcome extends NodeResult {
  start: number | null;
  end: number | null;
}

export interface RolloutResult {
  ok: boolean;
  revision: string;
  nodes: NodeResult[];
}

/**
 * What `apply` prints (stderr) when it returned the node to its previous generation itself: after
 * a failed step, or after `--verify` failed.
 */
const APPLY_ROLLED_BACK = /the node is back on generation/;

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

function why(e: TaskEvent): string {
  const text = e.stderr?.trim() || e.msg?.trim() || e.stdout?.trim() || `exit ${e.rc ?? '?'}`;
  return `${e.step}: ${lastLines(text)}`;
}

/**
 * Each node's outcome. `selected` are the nodes the rollout was asked to touch, in order; the other
 * `all` nodes are `skipped`. A selected node with no event was never reached: `pending`.
 * `verified`: the apply step ran `apply --verify`, so a successful apply is a verified one.
 */
export function foldEvents(
  all: readonly string[],
  selected: readonly string[],
  events: readonly TaskEvent[],
  revision: string,
  verified: boolean,
): NodeOutcome[] {
  return all.map((name): NodeOutcome => {
    const mine = events.filter((e) => e.host === name);
    const times = mine.flatMap((e) => [e.start ?? e.end, e.end]).filter((t): t is number => t != null);
    const base = {
      name,
      start: times.length > 0 ? Math.min(...times) : null,
      end: times.length > 0 ? Math.max(...times) : null,
    };
    if (!selected.includes(name)) return { ...base, state: 'skipped', revision: '', detail: 'not selected' };
    if (mine.length === 0) {
      return { ...base, state: 'pending', revision: '', detail: 'not reached: the rollout stopped before' };
    }
    const last = new Map<Step, TaskEvent>();
    for (const e of mine) last.set(e.step, e);
    const failure = STEPS.map((s) => last.get(s)).find(
      (e) => e !== undefined && e.step !== 'stop' && (e.status === 'failed' || e.status === 'unreachable'),
    );
    const apply = last.get('apply');
    const rollback = last.get('rollback');
    if (failure === undefined) {
      if (apply?.status !== 'ok') {
        return { ...base, state: 'failed', revision: '', detail: 'stopped before apply' };
      }
      if (verified) return { ...base, state: 'verified', revision, detail: 'applied and verified' };
      return { ...base, state: 'applied', revision, detail: lastLines(apply.stdout ?? '', 1) };
    }
    if (failure.step === 'rollback') {
      return { ...base, state: 'failed', revision: '', detail: `rollback failed: ${why(failure)}` };
    }
    if (rollback?.status === 'ok') {
      return { ...base, state: 'rolled_back', revision: '', detail: `${why(failure)}; rolled back` };
    }
    if (
      failure.step === 'apply' &&
      APPLY_ROLLED_BACK.test(`${failure.stderr ?? ''}${failure.stdout ?? ''}`)
    ) {
      return { ...base, state: 'rolled_back', revision: '', detail: `${why(failure)}; apply rolled back` };
    }
    return { ...base, state: 'failed', revision: '', detail: why(failure) };
  });
}

/** The pinned JSON document. ok: every selected node applied or verified. */
export function rolloutResult(revision: string, outcomes: readonly NodeOutcome[]): RolloutResult {
  const nodes = outcomes.map(({ name, state, revision: r, detail }) => ({
    name,
    state,
    revision: r,
    detail,
  }));
  const ok = outcomes.every((n) => n.state === 'applied' || n.state === 'verified' || n.state === 'skipped');
  return { ok, revision, nodes };
}

/** A line per node for people: name, state, start and end time, duration, detail. */
export function formatOutcomes(outcomes: readonly NodeOutcome[]): string {
  const w = Math.max(4, ...outcomes.map((n) => n.name.length));
  const hhmmss = (t: number | null): string =>
    t === null ? '--:--:--' : new Date(t * 1000).toISOString().slice(11, 19);
  return outcomes
    .map((n) => {
      const took = n.start !== null && n.end !== null ? `${(n.end - n.start).toFixed(1)} s` : '-';
      return `${n.name.padEnd(w)}  ${n.state.padEnd(11)}  ${hhmmss(n.start)} → ${hhmmss(n.end)}  ${took.padStart(7)}  ${n.detail}\n`;
    })
    .join('');
}
