import { Lines } from './lines.ts';
import { commentLine } from './quote/comment.ts';

/**
 * Small emitters for line-oriented configuration formats. Text is built from sections and lines,
 * never from templates with logic inside.
 */
export class ConfigWriter {
  private readonly lines = new Lines();
  private readonly pads: string[] = [''];

  constructor(private readonly indent = '    ') {}

  /**
   * A comment line, with `#` prefix; newlines in `text` become separate comment lines, other
   * control characters are refused (`RenderRefusal`).
   */
  comment(text: string, depth = 0): this {
    for (const l of text.split('\n')) this.lines.push(`${this.pad(depth)}# ${commentLine(l)}`.trimEnd());
    return this;
  }

  line(text: string, depth = 1): this {
    this.lines.push(depth === 0 ? text : this.pad(depth) + text);
    return this;
  }

  /** A line from tokens, skipping undefined/false ones. */
  tokens(depth: number, ...parts: (string | number | false | undefined)[]): this {
    return this.line(parts.filter((p) => p !== undefined && p !== false).join(' '), depth);
  }

  /** A section header at depth 0, preceded by a blank line unless first. */
  section(header: string): this {
    this.blank();
    this.lines.push(header);
    return this;
  }

  blank(): this {
    const last = this.lines.last;
    if (last !== undefined && last !== '') this.lines.push('');
    return this;
  }

  raw(text: string): this {
    this.lines.push(text);
    return this;
  }

  /**
   * Sections rendered by another writer (its `toString()`), separated from what comes before like
   * a section: text shared by several files is rendered once and placed in each.
   */
  block(text: string): this {
    if (text === '\n') return this;
    this.blank();
    this.lines.push(text.slice(0, -1));
    return this;
  }

  /** Lines rendered by another writer (its `toString()`), going on right after the last line. */
  include(text: string): this {
    if (text !== '\n') this.lines.push(text.slice(0, -1));
    return this;
  }

  toString(): string {
    return this.lines.text();
  }

  private pad(depth: number): string {
    for (let d = this.pads.length; d <= depth; d++) this.pads.push(this.indent.repeat(d));
    return this.pads[depth]!;
  }
}

/** A bracketed IPv6 or a plain IPv4 address, as HAProxy writes addresses with ports. */
export function hostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Durations as HAProxy and BIRD read them, in the largest exact unit. */
export function duration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
