import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
/** What a real tool said. */
export interface ToolResult {
  ok: boolean;
  /** The tool's stdout and stderr (or why it could not run). */
  output: string;
  /** The tool is not installed: `ok` is false, and `build` may choose to skip the check. */
  missing: boolean;
}

const SBIN = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** A tool's absolute path: PATH first, then the sbin directories a non-root PATH may lack. */
export function findTool(name: string): string | undefined {
  if (name.includes('/')) return name;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export function missingTool(tool: string): ToolResult {
  return { ok: false, output: `${tool} is not installed`, missing: true };
}

/** Runs a tool (found with `findTool`) with a timeout; never throws. */
export function runTool(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  const timeout = opts.timeoutMs ?? 30_000;
  return new Promise((done) => {
    execFile(
      findTool(cmd) ?? cmd,
      [...args],
      { cwd: opts.cwd, timeout, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (err === null) return done({ ok: true, output, missing: false });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return done(missingTool(cmd));
        const why = err.killed ? `timed out after ${timeout} ms` : `exit status ${String(code)}`;
        done({ ok: false, output: output === '' ? why : `${output}\n(${why})`, missing: false });
      },
    );
  });
}

/** Runs tasks with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
