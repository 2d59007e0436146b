/**
 * `intentlb verify` as a library: the site as a client sees it, checked against the compiled
 * intent. `apply --verify` and rollouts call `verifySite` for the services they changed.
 */
import { networkInterfaces } from 'node:os';
import type { Model } from '../model/index.ts';
import { planChecks } from './plan.ts';
import { runChecks } from './run.ts';
import type { PlanContext, VerifyReport } from './types.ts';

export interface VerifyOptions {
  /** The intent revision of `model` (render/node.ts `intentRevision`). */
  revision: string;
  /** Verify from this node (run on it): its VIPs are local, its monitor URIs are checked. */
  node?: string;
  /** Only these services (ids); all when absent. */
  services?: readonly string[];
  /** This host's addresses; default: its interfaces'. */
  local?: readonly string[];
  /** Served certificates must stay valid this many more days (default 30, as `check` warns). */
  certDays?: number;
  /** A BIRD control socket with the announcements (the router's) for the announce checks. */
  bird?: string;
  /** Node name → install root, for the revision check. */
  roots?: ReadonlyMap<string, string>;
  /** Per probe (default 3000 ms). */
  timeoutMs?: number;
  /** For the whole run (default 10000 ms). */
  deadlineMs?: number;
  /** Probes at once (default 64). */
  concurrency?: number;
  now?: Date;
}

/** A mistake in what verify was asked (unknown node or service): a usage error for the CLI. */
export class VerifyUsageError extends Error {}

/** Addresses of this host's interfaces, without link-local IPv6 (needs a zone to be used). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:')))
    .map((a) => a.address);
}

/** The plan's context for `model` and `opts`; throws VerifyUsageError for an unknown node or service. */
export function planContext(model: Model, opts: VerifyOptions): PlanContext {
  const local = opts.local ?? localAddresses();
  let node: PlanContext['node'];
  if (opts.node !== undefined) {
    node = model.site.nodes.find((n) => n.name === opts.node);
    if (node === undefined) {
      const names = model.site.nodes.map((n) => n.name).join(', ');
      throw new VerifyUsageError(`no node ${opts.node} in site ${model.site.name} (nodes: ${names})`);
    }
    if (!local.includes(node.address)) {
      throw new VerifyUsageError(
        `--node ${node.name}: this host does not have ${node.address}; run verify --node on the node itself (or in its namespace)`,
      );
    }
  }
  const ids = new Set(model.services.map((s) => s.id));
  const unknown = (opts.services ?? []).filter((id) => !ids.has(id));
  if (unknown.length > 0)
    throw new VerifyUsageError(`no service ${unknown.join(', ')} in site ${model.site.name}`);
  return {
    model,
    revision: opts.revision,
    ...(node !== undefined && { node }),
    local,
    certDays: opts.certDays ?? 30,
    ...(opts.bird !== undefined && { bird: opts.bird }),
    roots: opts.roots ?? new Map(),
  };
}

/** Plans and runs every check; `ok` when all pass. */
export async function verifySite(model: Model, opts: VerifyOptions): Promise<VerifyReport> {
  const planned = planChecks(planContext(model, opts), opts.services);
  const results = await runChecks(planned, {
    timeoutMs: opts.timeoutMs ?? 3000,
    deadlineMs: opts.deadlineMs ?? 10_000,
    concurrency: opts.concurrency ?? 64,
    now: opts.now ?? new Date(),
  });
  return { ok: results.every((r) => r.ok), revision: opts.revision, results };
}

/**
 * The services a `--node` report shows with no healthy server (their `health` check failed): what
 * `apply` must not exit 0 on unless the operator says so.
 */
export function unhealthyServices(r: VerifyReport): string[] {
  return [...new Set(r.results.filter((x) => x.check === 'health' && !x.ok).map((x) => x.service))].sort();
}
