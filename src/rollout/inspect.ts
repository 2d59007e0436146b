/**
 * `status --site` and the site-wide `plan`: what the inspect playbook read on each node, as a row
 * per node (pure, table-tested). Drift is a plan that is not empty: the node does not run what the
 * admin host's checkout says.
 */
import type { TaskEvent } from './result.ts';

export interface NodeRow {
  name: string;
  /** Whether the node answered at all. */
  reachable: boolean;
  commit: string | null;
  generation: number | null;
  /** What apply would change (null: unknown). */
  drift: { files: number; actions: number } | null;
  instances: { running: number; total: number } | null;
  healthd: { announced: number; vips: number; draining: boolean } | null;
  /** The plan's actions, one line each (site-wide plan). */
  actions: PlanAction[];
  detail: string;
}

export interface PlanAction {
  kind: string;
  instance?: string;
  address?: string;
  service?: string;
  verb?: string;
  reason?: string;
}

interface PlanJson {
  files: { path: string }[];
  actions: PlanAction[];
}

interface StatusJson {
  applied: number | null;
  commit?: string | null;
  instances: { running: boolean }[];
}

interface HealthdJson {
  draining: boolean;
  vips: { announced: boolean }[];
}

function parse<T>(e: TaskEvent | undefined): T | null {
  if (e === undefined || e.status !== 'ok' || !e.stdout) return null;
  try {
    return JSON.parse(e.stdout) as T;
  } catch {
    return null;
  }
}

export function foldInspect(nodes: readonly string[], events: readonly TaskEvent[]): NodeRow[] {
  return nodes.map((name): NodeRow => {
    const mine = new Map(events.filter((e) => e.host === name).map((e) => [e.step, e]));
    const unreachable = [...mine.values()].find((e) => e.status === 'unreachable');
    const plan = parse<PlanJson>(mine.get('plan'));
    const status = parse<StatusJson>(mine.get('status'));
    const healthd = parse<HealthdJson>(mine.get('healthd'));
    const problems = [...mine.values()]
      .filter((e) => e.status === 'failed' && e.step !== 'healthd')
      .map((e) => `${e.step}: ${(e.stderr || e.msg || '').trim().split('\n').slice(-1)[0] ?? ''}`);
    return {
      name,
      reachable: mine.size > 0 && unreachable === undefined,
      commit: status?.commit ?? null,
      generation: status?.applied ?? null,
      drift: plan === null ? null : { files: plan.files.length, actions: plan.actions.length },
      instances:
        status === null
          ? null
          : { running: status.instances.filter((i) => i.running).length, total: status.instances.length },
      healthd:
        healthd === null
          ? null
          : {
              announced: healthd.vips.filter((v) => v.announced).length,
              vips: healthd.vips.length,
              draining: healthd.draining,
            },
      actions: plan?.actions ?? [],
      detail:
        unreachable !== undefined ? `unreachable: ${unreachable.msg ?? ''}`.trim() : problems.join('; '),
    };
  });
}

/** Every node reachable, running every instance, and without drift. */
export function rowsHealthy(rows: readonly NodeRow[]): boolean {
  return rows.every(
    (r) =>
      r.reachable &&
      r.drift !== null &&
      r.drift.files === 0 &&
      r.drift.actions === 0 &&
      r.instances !== null &&
      r.instances.running === r.instances.total,
  );
}

/** The table of `status --site`: node × commit × drift × instances × healthd. */
export function formatRows(rows: readonly NodeRow[]): string {
  const cells = rows.map((r) => [
    r.name,
    r.commit === null ? '-' : r.commit.slice(0, 12),
    r.generation === null ? '-' : String(r.generation),
    r.drift === null
      ? '?'
      : r.drift.files + r.drift.actions === 0
        ? 'none'
        : `${r.drift.files} files, ${r.drift.actions} actions`,
    r.instances === null ? '?' : `${r.instances.running}/${r.instances.total}`,
    r.healthd === null
      ? '-'
      : `${r.healthd.announced}/${r.healthd.vips} announced${r.healthd.draining ? ', drained' : ''}`,
    r.reachable ? r.detail : `unreachable ${r.detail}`.trim(),
  ]);
  const head = ['node', 'commit', 'gen', 'drift', 'running', 'healthd', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...cells.map(line)].join('\n')}\n`;
}
