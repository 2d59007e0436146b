import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { ServiceScope } from '../infer/context.ts';
import type { ServiceModel, SiteModel } from '../model/index.ts';
import { healthTimingProblems } from '../vocabulary/health-timing.ts';
import { closest } from '../vocabulary/strings.ts';

/**
 * A service's `health`: its timing within healthd's limits (the site's own values were checked with
 * site.yaml), and an exec check that names a command the platform lists in `checks.commands`, with
 * arguments only where the platform allows them.
 */
export function checkServiceHealth(s: ServiceModel, scope: ServiceScope, site: SiteModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const written = (key: string): boolean => scope.get(['health', key]) !== undefined;
  const own = ['interval', 'timeout', 'hold_down'].find(written);
  if (own !== undefined) {
    for (const p of healthTimingProblems(s.health)) {
      // Where the service (or its defaults) wrote it; a timeout the site set, at the interval written here.
      out.push(
        diag('E_HEALTH_TIMING', {
          message: p.message,
          ...scope.where(['health', written(p.key) ? p.key : own]),
          path: `health.${p.key}`,
          hint: 'checks every 100 ms or slower, each with a timeout below its interval',
        }),
      );
    }
  }
  const exec = s.health.exec;
  if (exec === undefined) {
    if (written('args')) {
      out.push(
        diag('E_CHECK_COMMAND', {
          message: '`health.args` without `health.exec`: there is no command to pass them to',
          ...scope.where(['health', 'args']),
          path: 'health.args',
        }),
      );
    }
    return out;
  }
  const command = site.checkCommands.find((c) => c.name === exec.command);
  if (command === undefined) {
    const known = site.checkCommands.map((c) => c.name);
    const near = closest(exec.command, known);
    out.push(
      diag('E_CHECK_COMMAND', {
        message: `health.exec names ${exec.command}, which site.yaml checks.commands does not define`,
        ...scope.where(['health', 'exec']),
        path: 'health.exec',
        hint:
          near !== undefined
            ? `did you mean \`${near}\`?`
            : known.length > 0
              ? `the platform defines ${known.join(', ')}`
              : 'the platform defines no check commands (site.yaml checks.commands)',
      }),
    );
  } else if (exec.args.length > 0 && !command.argsAllowed) {
    out.push(
      diag('E_CHECK_COMMAND', {
        message: `check command ${command.name} takes no arguments from services (site.yaml checks.commands.${command.name}.args_allowed)`,
        ...scope.where(['health', 'args']),
        path: 'health.args',
        hint: 'drop `health.args`, or ask the platform team to allow them',
      }),
    );
  }
  return out;
}
