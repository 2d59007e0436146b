/**
 * The lab's long-running processes: started detached inside a namespace (a process group of their
 * own, output to a log file) so they outlive `lab up`, recorded by PID and start time, and stopped
 * by process group only while the recorded process is still the one we started.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { isMissing } from '../errors.ts';
import { LabError } from './errors.ts';
import { IP, ip } from './netns.ts';

/** A process the lab started. */
export interface LabProcess {
  /** What it is: `bird`, `backend`, `supervise`. */
  kind: string;
  /** The lab host it runs on. */
  host: string;
  ns: string;
  /** Its PID, which is also its process group (it leads a group of its own). */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when started: tells it from a later process with the same PID. */
  startTime: string;
  log: string;
  command: string[];
}

export interface SpawnSpec {
  kind: string;
  host: string;
  ns: string;
  command: string[];
  log: string;
  cwd?: string;
}

/** Starts `command` inside `ns`, detached, stdout and stderr appended to `log`. */
export function spawnDetached(spec: SpawnSpec): LabProcess {
  const fd = openSync(spec.log, 'a', 0o600);
  try {
    const [cmd, ...args] = spec.command;
    const child = spawn(IP, ['netns', 'exec', spec.ns, cmd!, ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(spec.cwd !== undefined && { cwd: spec.cwd }),
    });
    child.on('error', () => {}); // reported through the log and liveness checks
    child.unref();
    if (child.pid === undefined) throw new LabError(`cannot start ${cmd} in ${spec.ns}`);
    return {
      kind: spec.kind,
      host: spec.host,
      ns: spec.ns,
      pid: child.pid,
      startTime: startTimeOf(child.pid) ?? '',
      log: spec.log,
      command: spec.command,
    };
  } finally {
    closeSync(fd);
  }
}

/** Start time of a live (not zombie) process, or undefined. */
function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // the process is gone
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after its `)`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** The process is still running and is the one the lab started. */
export function isAlive(p: LabProcess): boolean {
  const now = startTimeOf(p.pid);
  return now !== undefined && (p.startTime === '' || now === p.startTime);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Stops processes: SIGTERM to each one's process group, then SIGKILL to those still running
 * after `graceMs`. A recorded PID that now belongs to another process is left alone.
 */
export async function stopProcesses(ps: readonly LabProcess[], graceMs = 2000): Promise<void> {
  const mine = ps.filter(isAlive);
  for (const p of mine) signalGroup(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (mine.some(isAlive) && Date.now() < deadline) await sleep(20);
  for (const p of mine.filter(isAlive)) signalGroup(p.pid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone already
  }
}

/** PIDs of every process inside a namespace (`ip netns pids`); none when it does not exist. */
export function namespacePids(ns: string): number[] {
  try {
    return ip('netns', 'pids', ns)
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return []; // `ip netns pids` fails for a namespace that does not exist
  }
}

/**
 * Stops whatever still runs inside the lab's own namespaces — the children of the lab's processes
 * (HAProxy workers a supervisor left behind, say) — so deleting a namespace really frees it.
 * Returns the PIDs it had to signal.
 */
export async function sweepNamespaces(namespaces: readonly string[], graceMs = 1000): Promise<number[]> {
  const found = namespaces.flatMap(namespacePids);
  if (found.length === 0) return [];
  for (const pid of found) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  const running = (): number[] => namespaces.flatMap(namespacePids);
  while (running().length > 0 && Date.now() < deadline) await sleep(50);
  for (const pid of running()) signal(pid, 'SIGKILL');
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Waits for `pred(log text)` while `p` runs; throws with the log's tail when it exits or time runs out. */
export async function waitForLog(
  p: LabProcess,
  pred: (text: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readLog(p.log);
    if (pred(text)) return;
    if (!isAlive(p)) throw new LabError(`${what} exited before it was ready:\n${tail(readLog(p.log))}`);
    if (Date.now() > deadline) throw new LabError(`${what} not ready within ${timeoutMs} ms:\n${tail(text)}`);
    await sleep(25);
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return ''; // nothing logged yet
    throw err;
  }
}

/** The last lines of a log, indented, for error messages. */
export function tail(text: string, lines = 12): string {
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => `  | ${l}`)
    .join('\n');
}
