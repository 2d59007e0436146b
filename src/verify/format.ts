/** The report for people (a table), tools (the pinned JSON), Prometheus and Nagios/Icinga2. */
import pc from 'picocolors';
import type { VerifyReport } from './types.ts';

/** The pinned machine format: `{ok, revision, results: [{service, check, ok, detail}]}`, nothing more. */
export function reportJson(r: VerifyReport): string {
  const results = r.results.map((x) => ({ service: x.service, check: x.check, ok: x.ok, detail: x.detail }));
  return `${JSON.stringify({ ok: r.ok, revision: r.revision, results }, null, 2)}\n`;
}

export function formatTable(r: VerifyReport, color: boolean): string {
  const c = color ? pc : pc.createColors(false);
  const ws = Math.max(7, ...r.results.map((x) => x.service.length));
  const wc = Math.max(5, ...r.results.map((x) => x.check.length));
  const lines = [`${'service'.padEnd(ws)}  ${'check'.padEnd(wc)}  result      ms  detail`];
  for (const x of r.results) {
    const state = x.ok ? c.green('ok    ') : c.red(c.bold('FAILED'));
    lines.push(
      `${x.service.padEnd(ws)}  ${x.check.padEnd(wc)}  ${state}  ${String(x.ms).padStart(6)}  ${oneLine(x.detail)}`,
    );
  }
  const failed = r.results.filter((x) => !x.ok).length;
  lines.push(
    '',
    failed === 0
      ? c.green(`${r.results.length} checks passed (revision ${r.revision})`)
      : c.red(`${failed} of ${r.results.length} checks FAILED (revision ${r.revision})`),
  );
  return `${lines.join('\n')}\n`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f]/g, ' ');

/** A Prometheus label value: backslash, double quote and newline escaped (text exposition format). */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Text exposition format: one gauge per check (1 passed, 0 failed) and its duration, the overall
 * result and the revision verified. For node_exporter's textfile collector or a scrape wrapper.
 */
export function formatPrometheus(r: VerifyReport): string {
  const l = (x: { service: string; check: string }) =>
    `service="${label(x.service)}",check="${label(x.check)}"`;
  const out = [
    '# HELP intentlb_verify_check_ok Whether a promise of the intent holds as a client sees it (1) or not (0).',
    '# TYPE intentlb_verify_check_ok gauge',
    ...r.results.map((x) => `intentlb_verify_check_ok{${l(x)}} ${x.ok ? 1 : 0}`),
    '# HELP intentlb_verify_check_duration_seconds How long the check took.',
    '# TYPE intentlb_verify_check_duration_seconds gauge',
    ...r.results.map((x) => `intentlb_verify_check_duration_seconds{${l(x)}} ${(x.ms / 1000).toFixed(3)}`),
    '# HELP intentlb_verify_ok Whether every check passed (1) or not (0).',
    '# TYPE intentlb_verify_ok gauge',
    `intentlb_verify_ok ${r.ok ? 1 : 0}`,
    '# HELP intentlb_verify_info The intent revision that was verified.',
    '# TYPE intentlb_verify_info gauge',
    `intentlb_verify_info{revision="${label(r.revision)}"} 1`,
  ];
  return `${out.join('\n')}\n`;
}

/**
 * One Nagios/Icinga2 plugin status line (exit 0 OK, 2 CRITICAL), with perfdata; the failed checks
 * follow on the long-output lines.
 */
export function formatNagios(r: VerifyReport): string {
  const failed = r.results.filter((x) => !x.ok);
  const perf = `| checks=${r.results.length} failed=${failed.length}`;
  if (failed.length === 0) {
    return `INTENT OK - ${r.results.length} checks passed, revision ${r.revision} ${perf}\n`;
  }
  // `|` starts the perfdata in a plugin's output: none may come from a service id or a detail.
  const plugin = (t: string): string => oneLine(t).replace(/\|/g, '/');
  const names = failed.map((x) => `${x.service} ${x.check}`);
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
  const long = failed.map((x) => plugin(`${x.service} ${x.check}: ${x.detail}`));
  return `INTENT CRITICAL - ${failed.length} of ${r.results.length} checks failed: ${plugin(shown)} ${perf}\n${long.join('\n')}\n`;
}
