import { type Compiled, type CompileOptions, compile } from '../../src/compile.ts';
import type { Diagnostic } from '../../src/diagnostics/index.ts';
import { type LoadedSite, load, memoryFs } from '../../src/load/index.ts';

/** Site-relative path -> text; `null` removes a file of the base site. */
export type FileOverrides = Readonly<Record<string, string | null>>;

/** The base site with some files replaced, added (`text`) or removed (`null`). */
export function withFiles(
  base: Readonly<Record<string, string>>,
  over: FileOverrides = {},
): Record<string, string> {
  const out: Record<string, string> = { ...base };
  for (const [path, text] of Object.entries(over)) {
    if (text === null) delete out[path];
    else out[path] = text;
  }
  return out;
}

export interface SiteRun extends Compiled {
  loaded: LoadedSite;
  /** Load and compile diagnostics together, as `intentlb check` reports them. */
  all: Diagnostic[];
}

/**
 * The clock the tables compile with. Test certificates are made by openssl from the real clock,
 * so the tests take the same "now" and shift it explicitly (`daysFromNow`) to reach expiry.
 */
export const NOW = new Date();

export function daysFromNow(days: number): Date {
  return new Date(NOW.getTime() + days * 86_400_000);
}

/** Loads an in-memory site (`odd`: paths that are links or special files) and compiles it the way the CLI does. */
export async function compileFiles(
  files: Readonly<Record<string, string>>,
  opts: Partial<CompileOptions> & { odd?: Readonly<Record<string, 'link' | 'special'>> } = {},
): Promise<SiteRun> {
  const l = load(memoryFs(files, opts.odd));
  const c = await compile(l.value, {
    now: opts.now ?? NOW,
    ...(opts.resolver && { resolver: opts.resolver }),
  });
  return { ...c, loaded: l.value, all: [...l.diagnostics, ...c.diagnostics] };
}

/** The bits of a diagnostic the tables assert: code and position, never wording. */
export function where(d: Diagnostic): { code: string; file: string; line: number; column: number } {
  return { code: d.code, file: d.file, line: d.line, column: d.column };
}

/** Lines joined with newlines and a final newline, so YAML fixtures read like files. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
