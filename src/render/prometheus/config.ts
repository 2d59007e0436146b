import type { Model } from '../../model/index.ts';
import { HEADER, type RenderedFile } from '../types.ts';
import { emitYaml } from '../yaml-emit.ts';
import { renderRules } from './rules.ts';
import { JOBS, jobName, renderTargets } from './targets.ts';

/**
 * The site's Prometheus part (`prometheus/` of the site tree): the file_sd targets, the alerting
 * rules and `prometheus.yml` with the scrape jobs that read them (merge its `scrape_configs` and
 * `rule_files` into the server's own; paths are relative to the file, as Prometheus reads them).
 */
export function renderPrometheus(model: Model): RenderedFile[] {
  const rules = renderRules(model);
  const config = {
    scrape_configs: (Object.keys(JOBS) as (keyof typeof JOBS)[]).map((job) => ({
      job_name: jobName(model, job),
      metrics_path: '/metrics',
      file_sd_configs: [{ files: [JOBS[job]] }],
    })),
    rule_files: [rules.path.slice('prometheus/'.length)],
  };
  return [
    { path: 'prometheus/prometheus.yml', content: `# ${HEADER}\n${emitYaml(config)}` },
    rules,
    ...renderTargets(model),
  ];
}
