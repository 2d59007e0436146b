/**
 * The lines of a generated file, joined a few hundred at a time. A file for 10,000 services holds
 * hundreds of thousands of lines; kept apart until the end, every line string survives several
 * garbage collections, and the collector copies each survivor. Joined early, they die young.
 */
export class Lines {
  private readonly chunks: string[] = [];
  private current: string[] = [];
  private pushed = 0;
  private lastLine: string | undefined;

  /** How many lines were pushed. */
  get count(): number {
    return this.pushed;
  }

  /** The last line pushed, if any. */
  get last(): string | undefined {
    return this.lastLine;
  }

  push(line: string): void {
    // A chunk ends before a non-blank line, so trailing blank lines are always in `current`.
    if (this.current.length >= CHUNK_LINES && line !== '') {
      this.chunks.push(this.current.join('\n'));
      this.current = [];
    }
    this.current.push(line);
    this.pushed++;
    this.lastLine = line;
  }

  /** The text, every line ended by a newline, without trailing blank lines; `\n` when empty. */
  text(): string {
    const lines = this.current;
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0 && this.chunks.length === 0) return '\n';
    // One join with an empty last element ends the text in a newline and gives one flat string;
    // `text + '\n'` would give a rope that hashing copies again.
    const parts = this.chunks.length === 0 ? lines : [...this.chunks, lines.join('\n')];
    parts.push('');
    const text = parts.join('\n');
    parts.pop();
    return text;
  }
}

const CHUNK_LINES = 256;
