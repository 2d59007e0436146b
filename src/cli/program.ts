import { Argument, Option } from 'commander';
import pc from 'picocolors';
import { formatDiagnostic, safeJson, visible } from '../diagnostics/index.ts';
import { registerApply } from './apply-command.ts';
import { registerBoot } from './boot-command.ts';
import { registerBuild } from './build-command.ts';
import { registerDrain } from './drain-command.ts';
import { explainRows, formatSource } from './explain.ts';
import { registerHealthd } from './healthd-command.ts';
import { type CliIo, UsageError } from './io.ts';
import { registerLab } from './lab-command.ts';
import { registerPlan } from './plan-command.ts';
import { registerPull } from './pull-command.ts';
import { registerRollout } from './rollout-command.ts';
import { type Register, runProgram } from './runner.ts';
import { jsonSchema, SCHEMA_KINDS, type SchemaKind } from './schema.ts';
import { compileSite, diagnosticsJson, report } from './site-input.ts';
import { registerStatus } from './status-command.ts';
import { registerSupervise } from './supervise-command.ts';
import { registerVerify } from './verify-command.ts';

export type { Register };

/**
 * Runs the command line in-process. Returns the exit code: 0 clean (warnings allowed), 1 errors,
 * 2 usage. Never prints a stack trace for a user's mistake.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runProgram(argv, io, (program, io, setExit) => {
    program
      .command('check')
      .description('check a site: exit 0 when clean (warnings allowed), 1 on errors')
      .argument('<site>', 'the site folder (holds site.yaml)')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
      .action(async (site: string, opts: { format: 'text' | 'json' }) => {
        const run = await compileSite(site, io);
        const errors = run.diagnostics.some((d) => d.severity === 'error');
        if (opts.format === 'json') {
          io.stdout(diagnosticsJson(run.diagnostics));
        } else {
          report(run, io);
          if (!errors) {
            const n = run.model?.instances.length ?? 0;
            io.stdout(
              `${visible(run.model?.site.name ?? site)}: ${run.services.length} services, ${n} HAProxy instance${n === 1 ? '' : 's'}, ok\n`,
            );
          }
        }
        setExit(errors ? 1 : 0);
      });

    program
      .command('explain')
      .description('print the effective intent of a service, each field with where it came from')
      .argument('<site>', 'the site folder')
      .argument('<service>', 'the service id, e.g. web/typo3/www')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
      .action(async (site: string, id: string, opts: { format: 'text' | 'json' }) => {
        const run = await compileSite(site, io);
        const s = run.services.find((x) => x.id === id.replace(/\.ya?ml$/, '').replace(/^services\//, ''));
        if (!s) {
          const known = run.loaded.services.map((f) =>
            f.path.slice('services/'.length).replace(/\.ya?ml$/, ''),
          );
          if (known.includes(id)) {
            report(run, io);
            setExit(1);
            return;
          }
          throw new UsageError(`no service ${id} in ${site} (services: ${known.slice(0, 20).join(', ')})`);
        }
        const rows = explainRows(s);
        if (opts.format === 'json') {
          io.stdout(`${safeJson({ service: s.id, file: s.file, fields: rows })}\n`);
        } else {
          const c = io.color ? pc : pc.createColors(false);
          io.stdout(`${c.bold(visible(s.id))}  ${c.dim(visible(s.file))}\n`);
          // Team strings (values, file names in sources) are shown through `visible`, widths after it.
          const shown = rows.map((r) => ({
            field: visible(r.field),
            value: visible(r.value),
            source: visible(formatSource(r.source)),
            fromFile: r.source?.kind === 'file',
          }));
          const width = Math.max(...shown.map((r) => r.field.length));
          const vwidth = Math.min(48, Math.max(...shown.map((r) => r.value.length)));
          for (const r of shown) {
            const colored = r.fromFile ? c.cyan(r.source) : c.dim(r.source);
            io.stdout(`  ${r.field.padEnd(width)}  ${r.value.padEnd(vwidth)}  ${colored}\n`);
          }
        }
        // The errors that concern this service (its file, or a defaults file it inherits from): say why
        // the exit code is 1.
        const errors = run.diagnostics.filter(
          (d) =>
            d.severity === 'error' && (d.file === s.file || (d.related ?? []).some((r) => r.file === s.file)),
        );
        for (const d of errors) io.stderr(`${formatDiagnostic(d, run.loaded.sources, io.color)}\n\n`);
        if (errors.length > 0) setExit(1);
      });

    program
      .command('schema')
      .description('print the JSON Schema (draft-07) of an intent file kind, for editors')
      .addArgument(
        new Argument('[kind]', 'which file kind').choices(Object.keys(SCHEMA_KINDS)).default('service'),
      )
      .action((kind: SchemaKind) => {
        io.stdout(`${JSON.stringify(jsonSchema(kind), null, 2)}\n`);
      });

    registerBuild(program, io, setExit);
    registerLab(program, io, setExit);
    registerHealthd(program, io, setExit);
    registerPlan(program, io, setExit);
    registerApply(program, io, setExit);
    registerBoot(program, io);
    registerStatus(program, io, setExit);
    registerDrain(program, io);
    registerSupervise(program, io);
    registerVerify(program, io, setExit);
    registerRollout(program, io, setExit);
    registerPull(program, io, setExit);
  });
}
