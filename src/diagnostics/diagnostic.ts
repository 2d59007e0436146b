import { CODES, type Code, type Severity } from './codes.ts';

/** A position in a site file; `file` is relative to the site folder, line and column count from 1. */
export interface Location {
  file: string;
  line: number;
  column: number;
}

/** One problem found in a site. Diagnostics are data: stages collect them, they never throw. */
export interface Diagnostic {
  code: Code;
  severity: Severity;
  message: string;
  file: string;
  line: number;
  column: number;
  /** The intent path the problem is about, e.g. `backend.check.path`. */
  path?: string;
  hint?: string;
  /** Other places that matter, e.g. the defaults file that supplied an inherited value. */
  related?: (Location & { message: string })[];
}

export interface DiagnosticInit {
  message: string;
  at: Location;
  path?: string | undefined;
  hint?: string | undefined;
  related?: (Location & { message: string })[] | undefined;
}

export function diag(code: Code, init: DiagnosticInit): Diagnostic {
  const d: Diagnostic = {
    code,
    severity: CODES[code].severity,
    message: init.message,
    file: init.at.file,
    line: init.at.line,
    column: init.at.column,
  };
  if (init.path !== undefined) d.path = init.path;
  if (init.hint !== undefined) d.hint = init.hint;
  if (init.related !== undefined && init.related.length > 0) d.related = init.related;
  return d;
}

/** A stage's answer: its value (possibly partial when errors stand) and what it found. */
export interface Result<T> {
  value: T;
  diagnostics: Diagnostic[];
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code),
  );
}

/** Sorted, with exact repeats (same code, place and message) removed. */
export function uniqueDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return sortDiagnostics(diagnostics).filter((d) => {
    const k = `${d.code}|${d.file}|${d.line}|${d.column}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
