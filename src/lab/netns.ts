import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { findTool } from '../build/run-tool.ts';

/**
 * Network namespaces for the lab and the tests. Everything here acts inside namespaces this
 * module created; the root namespace's interfaces, routes, sysctls and rulesets are never touched.
 */
export const IP = '/usr/sbin/ip';

export function ip(...args: string[]): string {
  return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command inside a namespace and returns its stdout; throws with stderr on failure. */
export function nsExec(ns: string, cmd: string, args: readonly string[] = [], timeoutMs = 30_000): string {
  return execFileSync(IP, ['netns', 'exec', ns, cmd, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
}

/** Starts a long-running process inside a namespace (its PID is the process's own, via exec). */
export function nsSpawn(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): ChildProcess {
  return spawn(IP, ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export function listNamespaces(): string[] {
  const out = ip('netns', 'list');
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.length > 0);
}

/** A unique namespace name with a prefix, short enough for interface names derived from it. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Creates a namespace with loopback up. */
export function addNamespace(name: string): void {
  ip('netns', 'add', name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
}

/** Deletes a namespace if it exists; never throws. */
export function deleteNamespace(name: string): void {
  try {
    ip('netns', 'delete', name);
  } catch {
    // already gone
  }
}

/**
 * Adds host addresses (/32, /128) to the namespace's loopback, where anycast VIPs live. (Not a
 * dummy interface: kernels without the dummy module, like this lab's, have none.)
 */
export function addLoopbackAddresses(ns: string, addresses: readonly string[]): void {
  for (const a of addresses) {
    const cidr = a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`;
    ip('-n', ns, 'addr', 'add', cidr, 'dev', 'lo');
  }
}

/** Stops a process we started: TERM, then KILL after a grace period. By PID only. */
export async function stopProcess(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs a command inside a namespace to its end: its exit code and its output (stdout, then
 * stderr). Never rejects; a timeout kills it and says so in the output.
 */
export function runIn(
  ns: string,
  command: readonly string[],
  timeoutMs: number,
  cwd?: string,
): Promise<{ code: number; output: string }> {
  const [cmd, ...args] = command;
  return new Promise((resolve) => {
    execFile(
      IP,
      ['netns', 'exec', ns, cmd!, ...args],
      {
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
        ...(cwd !== undefined && { cwd }),
      },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trimEnd();
        if (err === null) return resolve({ code: 0, output });
        const code = typeof err.code === 'number' ? err.code : 1;
        resolve({ code, output: err.killed ? `${output}\n(timed out after ${timeoutMs} ms)` : output });
      },
    );
  });
}

/** `nft -f -` with `script` inside a namespace; rejects with nft's message. */
export function nftIn(ns: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['netns', 'exec', ns, findTool('nft') ?? 'nft', '-f', '-'];
    const child = execFile(IP, args, { timeout: 30_000, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`nft -f - in ${ns} failed: ${stderr.trim() || err.message}`));
    });
    child.stdin?.end(script);
  });
}
