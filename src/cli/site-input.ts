import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Compiled, compile } from '../compile.ts';
import {
  type Diagnostic,
  formatDiagnostic,
  safeJson,
  summarize,
  uniqueDiagnostics,
} from '../diagnostics/index.ts';
import { errnoCode, isMissing, messageOf } from '../errors.ts';
import { diskFs, type LoadedSite, load } from '../load/index.ts';
import { type CliIo, UsageError } from './io.ts';

export interface SiteRun extends Compiled {
  root: string;
  loaded: LoadedSite;
}

/** Loads and compiles the site folder named on the command line. */
export async function compileSite(dir: string, io: CliIo): Promise<SiteRun> {
  const root = resolve(io.cwd, dir);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch (err) {
    // missing: reported below
    if (!isMissing(err) && errnoCode(err) !== 'ENOTDIR') {
      throw new UsageError(`${dir}: ${messageOf(err)}`, { cause: err });
    }
  }
  if (!isDir) throw new UsageError(`${dir}: no such site folder`);
  const l = load(diskFs(root));
  const c = await compile(l.value, { now: io.now(), ...(io.resolver && { resolver: io.resolver }) });
  const diagnostics = [...l.diagnostics, ...c.diagnostics];
  return { ...c, diagnostics: uniqueDiagnostics(diagnostics), root, loaded: l.value };
}

/** Prints diagnostics for people (code frames) and returns whether errors stand. */
export function report(run: SiteRun, io: CliIo): boolean {
  for (const d of run.diagnostics) io.stderr(`${formatDiagnostic(d, run.loaded.sources, io.color)}\n\n`);
  const errors = run.diagnostics.some((d) => d.severity === 'error');
  if (run.diagnostics.length > 0) io.stderr(`${summarize(run.diagnostics)}\n`);
  return errors;
}

/**
 * The pinned machine format of `check --format json`, plus `path` (the intent path the problem is
 * about) and `related` (other places that matter) when a diagnostic has them.
 */
export function diagnosticsJson(ds: readonly Diagnostic[]): string {
  const diagnostics = ds.map((d) => ({
    code: d.code,
    severity: d.severity,
    file: d.file,
    line: d.line,
    column: d.column,
    message: d.message,
    ...(d.hint !== undefined && { hint: d.hint }),
    ...(d.path !== undefined && { path: d.path }),
    ...(d.related !== undefined && {
      related: d.related.map((r) => ({ file: r.file, line: r.line, column: r.column, message: r.message })),
    }),
  }));
  return `${safeJson({ diagnostics })}\n`;
}
