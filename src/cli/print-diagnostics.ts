import { type Diagnostic, formatDiagnostic, summarize } from '../diagnostics/index.ts';
import type { CliIo } from './io.ts';

/**
 * Diagnostics for people, as `intentlb check` prints them: each with its code frame (from
 * `sources`, file name → text) and hint, then the count of errors and warnings.
 */
export function printDiagnostics(
  diagnostics: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
  io: CliIo,
): void {
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d, sources, io.color)}\n\n`);
  if (diagnostics.length > 0) io.stderr(`${summarize(diagnostics)}\n`);
}
