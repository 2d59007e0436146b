/**
 * From the compiled site to the checks that make its promises observable. Pure: the vantage point
 * (local addresses) and the operator's options come in as data, so the plan is tested from tables.
 */
import { CHECK_KINDS } from './kinds/index.ts';
import type { PlanContext, PlannedCheck } from './types.ts';

/** Every check of the services named (all when `services` is undefined), then the site's own. */
export function planChecks(ctx: PlanContext, services?: readonly string[]): PlannedCheck[] {
  const wanted = services === undefined ? undefined : new Set(services);
  const out: PlannedCheck[] = [];
  for (const s of ctx.model.services) {
    if (wanted !== undefined && !wanted.has(s.id)) continue;
    for (const k of CHECK_KINDS) {
      for (const p of k.plan(s, ctx)) out.push({ service: s.id, check: p.check, kind: k.kind, spec: p.spec });
    }
  }
  for (const k of CHECK_KINDS) {
    for (const p of k.planSite?.(ctx) ?? []) out.push({ ...p, kind: k.kind });
  }
  return out;
}
