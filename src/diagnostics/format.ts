import pc from 'picocolors';
import type { Diagnostic } from './diagnostic.ts';
import { visible } from './visible.ts';

type Colors = Pick<typeof pc, 'red' | 'yellow' | 'cyan' | 'dim' | 'bold'>;

/**
 * Human output: `file:line:col  severity CODE message`, a code frame with a caret, and the hint.
 * `sources` maps a site-relative file to its text. Every piece taken from the site (file names,
 * messages quoting values, source lines) is shown through `visible`: no control or bidi character
 * reaches the terminal raw.
 */
export function formatDiagnostic(
  d: Diagnostic,
  sources: ReadonlyMap<string, string>,
  color: boolean,
): string {
  const c: Colors = color ? pc : pc.createColors(false);
  const sev = d.severity === 'error' ? c.red(c.bold('error')) : c.yellow(c.bold('warning'));
  const out = [
    `${c.bold(`${visible(d.file)}:${d.line}:${d.column}`)} ${sev} ${c.dim(d.code)} ${visible(d.message)}`,
  ];
  const text = sources.get(d.file);
  if (text !== undefined) out.push(...codeFrame(text, d.line, d.column, c));
  if (d.hint !== undefined) out.push(`  ${c.cyan('hint:')} ${visible(d.hint)}`);
  for (const r of d.related ?? [])
    out.push(`  ${c.dim(`${visible(r.file)}:${r.line}:${r.column}: ${visible(r.message)}`)}`);
  return out.join('\n');
}

function codeFrame(text: string, line: number, column: number, c: Colors): string[] {
  const lines = text.split(/\r?\n/);
  if (line < 1 || line > lines.length) return [];
  // The empty "line" after a file's final newline is context only when the problem is on it.
  const shown = lines.at(-1) === '' && line < lines.length ? lines.length - 1 : lines.length;
  const first = Math.max(1, line - 1);
  const last = Math.min(shown, line + 1);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const marker = n === line ? c.red('>') : ' ';
    const source = lines[n - 1] ?? '';
    out.push(`${marker} ${c.dim(`${String(n).padStart(width)} |`)} ${visible(source)}`);
    if (n === line) out.push(`  ${' '.repeat(width)} ${c.dim('|')} ${caretPad(source, column)}${c.red('^')}`);
  }
  return out;
}

/** Blanks as wide as the shown text before `column` (tabs kept, so the caret lines up). */
function caretPad(source: string, column: number): string {
  return visible(source.slice(0, Math.max(0, column - 1))).replace(/[^\t]/g, ' ');
}

export function summarize(diagnostics: readonly Diagnostic[]): string {
  const e = diagnostics.filter((d) => d.severity === 'error').length;
  const w = diagnostics.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}
