/**
 * Starts one real daemon on a backend host: a fresh folder `<lab>/hosts/<host>/real/<name>/` with
 * the descriptor's folders and files, its `prepare` commands, then the daemon itself — in the
 * host's namespace, in the foreground, recorded by PID like every lab process, ready when its log
 * says so. A daemon with a `user` runs as that user (setpriv) and owns its folder.
 */
import {
  appendFileSync,
  chmodSync,
  chownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { LabError } from '../errors.ts';
import { runIn } from '../netns.ts';
import { type LabProcess, type SpawnSpec, tail, waitForLog } from '../processes.ts';
import { LAB_ROOT, type LabState } from '../state.ts';
import { type BinaryPaths, SETPRIV } from './binaries.ts';
import { REAL_DAEMONS } from './daemons.ts';
import type { RealInstance } from './types.ts';

const PREPARE_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 60_000;

/** The process kind the lab records for a real daemon (`backend:slapd`). */
export function realKind(daemon: string): string {
  return `backend:${daemon}`;
}

/** The instance's folder. */
export function instanceDir(labDir: string, i: RealInstance): string {
  return join(labDir, 'hosts', i.host, 'real', i.name);
}

/** Prepares and starts one daemon; resolves when it serves, throws (with its log's tail) when it does not. */
export async function startRealInstance(
  s: LabState,
  i: RealInstance,
  bins: BinaryPaths,
  spawn: (spec: SpawnSpec) => LabProcess,
): Promise<void> {
  const daemon = REAL_DAEMONS[i.protocol];
  const host = s.topology.hosts.find((h) => h.name === i.host)!;
  const dir = instanceDir(s.dir, i);
  const log = join(s.dir, 'logs', `${i.host}-${i.name}.log`);
  const setup = daemon.setup(i, dir, (declared) => {
    const path = bins.get(declared);
    if (path === undefined) throw new Error(`bug: ${daemon.daemon}'s binary ${declared} was not located`);
    return path;
  });
  const user = daemon.user === undefined ? undefined : account(daemon.user);

  rmSync(dir, { recursive: true, force: true }); // a restarted host starts from scratch
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const d of setup.dirs) {
    const path = join(dir, d.path);
    mkdirSync(path, { mode: d.mode });
    chmodSync(path, d.mode); // mkdir's mode passes through the umask
    if (d.owner !== undefined || d.group !== undefined)
      chownSync(
        path,
        d.owner === undefined ? 0 : account(d.owner).uid,
        d.group === undefined ? 0 : group(d.group),
      );
  }
  for (const f of setup.files) writeFileSync(join(dir, f.path), f.text, { mode: 0o644 });
  if (user !== undefined) {
    chownTree(dir, user.uid, user.gid);
    grantTraverse(s.dir, dir, daemon.user!);
  }
  const as = (command: readonly string[]): string[] =>
    user === undefined
      ? [...command]
      : [SETPRIV, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', ...command];

  for (const command of setup.prepare) {
    const r = await runIn(host.ns, as(command), PREPARE_TIMEOUT_MS, dir);
    appendFileSync(log, `$ ${command.join(' ')}\n${r.output}\n(exit ${r.code})\n`);
    if (r.code !== 0) {
      throw new LabError(
        `${daemon.daemon} on ${i.host}: ${command[0]} failed (exit ${r.code}; log ${log}):\n${tail(r.output, 20)}`,
      );
    }
  }
  const p = spawn({
    kind: realKind(daemon.daemon),
    host: i.host,
    ns: host.ns,
    command: as(setup.start),
    log,
    cwd: dir,
  });
  await waitForLog(
    p,
    (t) => t.includes(setup.ready),
    READY_TIMEOUT_MS,
    `${daemon.daemon} on ${i.host} (port ${i.port})`,
  );
}

interface Account {
  uid: number;
  gid: number;
}

/** A system user's uid and primary gid, from /etc/passwd. */
function account(name: string): Account {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new LabError(`no system user "${name}": is its Debian package installed?`);
  return { uid: Number(uid), gid: Number(gid) };
}

/** A system group's gid, from /etc/group. */
function group(name: string): number {
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const gid = line?.split(':')[2];
  if (gid === undefined) throw new LabError(`no system group "${name}": is its Debian package installed?`);
  return Number(gid);
}

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' }))
    chownSync(join(dir, entry), uid, gid);
}

/**
 * Lets `user` reach `dir`: search permission (o+x, never read) on each folder from `dir` up to the
 * lab's folder, and on the labs' root when the lab lives there; the folders above must already
 * allow it (a lab in /root, say, cannot host a PostgreSQL).
 */
function grantTraverse(labDir: string, dir: string, user: string): void {
  const parts = relative(labDir, dir).split(sep);
  const own = [labDir, ...parts.map((_, n) => join(labDir, ...parts.slice(0, n + 1)))];
  const top = dirname(labDir) === LAB_ROOT ? LAB_ROOT : labDir;
  if (top !== labDir) own.push(top);
  for (const d of own) chmodSync(d, (statSync(d).mode & 0o7777) | 0o001);
  for (let d = dirname(top); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new LabError(
        `${user} cannot reach the lab's folder: ${d} is closed to other users; choose another --dir`,
      );
    }
    if (d === dirname(d)) return;
  }
}
