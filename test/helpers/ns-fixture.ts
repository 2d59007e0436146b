import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  addLoopbackAddresses,
  addNamespace,
  deleteNamespace,
  nsExec,
  nsSpawn,
  stopProcess,
  uniqueName,
} from '../../src/lab/netns.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * One throwaway network namespace with every address on a dummy interface, and the processes
 * started in it. `close()` stops them by PID and deletes the namespace and temp files.
 */
export class NsFixture {
  readonly ns = uniqueName('ilbt');
  readonly dir = mkdtempSync(join(tmpdir(), 'intentlb-ns-'));
  private readonly children: ChildProcess[] = [];

  constructor(addresses: readonly string[]) {
    addNamespace(this.ns);
    try {
      addLoopbackAddresses(this.ns, addresses);
    } catch (e) {
      deleteNamespace(this.ns);
      rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Starts a lab backend host and waits for its ready line. Returns its control socket path. */
  async backend(host: string, listen: readonly string[]): Promise<string> {
    const control = join(this.dir, `${host}.ctl`);
    const args = ['--import', 'tsx', 'src/lab/backend/main.ts', '--host', host, '--control', control];
    for (const l of listen) args.push('--listen', l);
    const child = nsSpawn(this.ns, process.execPath, args, { cwd: ROOT });
    this.children.push(child);
    await waitForLine(child, (l) => l.includes('"ready"'), 15_000, `backend ${host}`);
    return control;
  }

  /** Starts a long-running process and keeps it for cleanup. */
  spawn(cmd: string, args: readonly string[]): ChildProcess {
    const child = nsSpawn(this.ns, cmd, args, { cwd: ROOT });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
    });
    this.children.push(child);
    return child;
  }

  exec(cmd: string, args: readonly string[], timeoutMs = 15_000): string {
    return nsExec(this.ns, cmd, args, timeoutMs);
  }

  mkdir(...parts: string[]): string {
    const p = join(this.dir, ...parts);
    mkdirSync(p, { recursive: true });
    return p;
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => stopProcess(c)));
    deleteNamespace(this.ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function waitForLine(
  child: ChildProcess,
  pred: (line: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error(`${what}: no stdout`));
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      rl.close();
      reject(new Error(`${what}: not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    rl.on('line', (line) => {
      if (pred(line)) {
        clearTimeout(timer);
        rl.close();
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited with ${code} before it was ready`));
    });
  });
}

/** Polls `fn` until it returns true, or fails after `timeoutMs`. */
export async function eventually(
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
}
