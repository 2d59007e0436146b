import type { Model } from '../../model/index.ts';
import { hostPort } from '../emit.ts';
import { HEALTHD_PORT } from '../healthd/config.ts';
import type { RenderedFile } from '../types.ts';

/** One file_sd target group. */
interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** The scrape jobs of a site, and the file of targets each reads. */
export const JOBS = {
  haproxy: 'targets/haproxy.json',
  healthd: 'targets/healthd.json',
} as const;

export function jobName(model: Model, job: keyof typeof JOBS): string {
  return `intentlb-${model.site.name}-${job}`;
}

/**
 * file_sd target files: every HAProxy instance's exporter (`/metrics` on the node's management
 * address, for instances with a `monitoring.prometheus` service) and healthd's `/metrics` on every
 * node. The `site`, `node` and `haproxy_instance` labels are what the rules group and match on.
 */
export function renderTargets(model: Model): RenderedFile[] {
  const exported = new Set(model.services.filter((s) => s.monitoring.prometheus).map((s) => s.id));
  const haproxy: TargetGroup[] = [];
  const healthd: TargetGroup[] = [];
  for (const n of model.site.nodes) {
    for (const i of model.instances) {
      if (!i.services.some((s) => exported.has(s))) continue;
      haproxy.push({
        targets: [hostPort(n.address, i.statsPort)],
        labels: { site: model.site.name, node: n.name, haproxy_instance: i.name },
      });
    }
    healthd.push({
      targets: [hostPort(n.address, HEALTHD_PORT)],
      labels: { site: model.site.name, node: n.name },
    });
  }
  const json = (groups: TargetGroup[]): string => `${JSON.stringify(groups, null, 2)}\n`;
  return [
    { path: `prometheus/${JOBS.haproxy}`, content: json(haproxy) },
    { path: `prometheus/${JOBS.healthd}`, content: json(healthd) },
  ];
}
