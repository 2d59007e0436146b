import type { ApplyResult } from '../deploy/apply.ts';
import type { Model } from '../model/index.ts';
import {
  formatTable,
  unhealthyServices,
  type VerifyOptions,
  type VerifyReport,
  verifySite,
} from '../verify/index.ts';

/**
 * What `apply` checks after a change that went through: no changed service may be left without a
 * healthy server (unless the operator accepts it), and with `--verify` the changed services must
 * pass `intentlb verify --node` on this node, else the node goes back to the generation before.
 * Deploy does not import verify: the command composes the two.
 */
export interface GateOptions {
  node: string;
  /** `--verify`: probe the changed services on this node, roll back when a check fails. */
  verify: boolean;
  /** `--allow-degraded`: a changed service with no server up is accepted (exit 0). */
  allowDegraded: boolean;
  /** Whether this process owns the node's network (the VIPs are local): verify can only run there. */
  ownsNetwork: boolean;
  verifyOptions?: Partial<VerifyOptions>;
}

export interface GateOutcome {
  /** The exit code apply ends with. */
  exit: 0 | 1;
  /** Lines for the operator (stderr). */
  messages: string[];
  /** Set when `--verify` failed: its report, and the node must be rolled back. */
  failedVerify?: VerifyReport;
}

/** The services of the instances the plan started, reloaded or changed at run time. */
export function changedServices(result: ApplyResult, model: Model): string[] {
  const touched = new Set(
    result.plan.actions.flatMap((a) =>
      a.kind === 'start' || a.kind === 'reload' || a.kind === 'runtime' ? [a.instance] : [],
    ),
  );
  return servicesOf(model, touched);
}

function servicesOf(model: Model, instances: ReadonlySet<string>): string[] {
  return model.instances
    .filter((i) => instances.has(i.name))
    .flatMap((i) => i.services)
    .sort();
}

export async function gateApply(
  result: ApplyResult,
  model: Model,
  revision: string,
  root: string,
  opts: GateOptions,
): Promise<GateOutcome> {
  const messages: string[] = [];
  if (!result.ok) return { exit: 1, messages };
  let exit: 0 | 1 = 0;
  const degraded = servicesOf(model, new Set(result.degraded));
  if (degraded.length > 0) {
    if (opts.allowDegraded) {
      messages.push(`warning: no server is up behind ${degraded.join(', ')} (accepted: --allow-degraded)`);
    } else {
      messages.push(
        `apply: no server is up behind ${degraded.join(', ')}: the change is in place, but these services answer nothing useful; fix the backends or pass --allow-degraded to accept`,
      );
      exit = 1;
    }
  }
  if (!opts.verify) return { exit, messages };
  const services = changedServices(result, model);
  if (services.length === 0) {
    messages.push('verify: no service changed on this node');
    return { exit, messages };
  }
  if (!opts.ownsNetwork) {
    messages.push('verify: skipped: --root in the root network namespace (the VIPs are not on this host)');
    return { exit, messages };
  }
  const report = await verifySite(model, {
    revision,
    node: opts.node,
    services,
    roots: new Map([[opts.node, root]]),
    ...opts.verifyOptions,
  });
  // A VRRP backup node does not hold the VIPs: only what it can answer for itself counts there.
  const counted =
    model.site.ha.mode === 'vrrp'
      ? { ...report, results: report.results.filter((r) => r.check === 'health' || r.check === 'revision') }
      : report;
  const ok = counted.results.every((r) => r.ok);
  if (ok) {
    messages.push(`verify: ${counted.results.length} checks of ${services.length} changed services passed`);
    return { exit, messages };
  }
  const unhealthy = unhealthyServices(counted);
  if (
    unhealthy.length > 0 &&
    opts.allowDegraded &&
    counted.results.every((r) => r.ok || r.check === 'health')
  )
    return {
      exit,
      messages: [...messages, `verify: only health failed (${unhealthy.join(', ')}), accepted`],
    };
  return { exit: 1, messages, failedVerify: { ...counted, ok: false } };
}

export { formatTable };
