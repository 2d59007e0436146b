/**
 * Small emitters for line-oriented configuration formats. Text is built from sections and lines,
 * never from templates with logic inside.
 */
export class ConfigWriter {
  private readonly out: string[] = [];

  constructor(private readonly indent = '    ') {}

  /** A comment line, with `#` prefix; newlines in `text` become separate comment lines. */
  comment(text: string, depth = 0): this {
    for (const l of text.split('\n')) this.out.push(`${this.indent.repeat(depth)}# ${l}`.trimEnd());
    return this;
  }

  line(text: string, depth = 1): this {
    this.out.push(`${this.indent.repeat(depth)}${text}`);
    return this;
  }

  /** A line from tokens, skipping undefined/false ones. */
  tokens(depth: number, ...parts: (string | number | false | undefined)[]): this {
    return this.line(parts.filter((p) => p !== undefined && p !== false).join(' '), depth);
  }

  /** A section header at depth 0, preceded by a blank line unless first. */
  section(header: string): this {
    if (this.out.length > 0 && this.out[this.out.length - 1] !== '') this.out.push('');
    this.out.push(header);
    return this;
  }

  blank(): this {
    if (this.out.length > 0 && this.out[this.out.length - 1] !== '') this.out.push('');
    return this;
  }

  raw(text: string): this {
    this.out.push(text);
    return this;
  }

  toString(): string {
    while (this.out.length > 0 && this.out[this.out.length - 1] === '') this.out.pop();
    return `${this.out.join('\n')}\n`;
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

/** A double-quoted string for formats that take them (Icinga2, nftables comments, BIRD). */
export function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ')}"`;
}

/**
 * Free text as one HAProxy argument: single-quoted (no `$` expansion inside), a single quote
 * written as `'\''`, line breaks folded.
 */
export function haproxyQuote(s: string): string {
  return `'${s.replace(/[\r\n]+/g, ' ').replace(/'/g, "'\\''")}'`;
}
