/**
 * SSH into the lab's LB nodes, so `intentlb rollout` reaches them the way it reaches real nodes:
 * an `sshd` (Debian's openssh-server) in each node's namespace, listening on the node's
 * addresses, with a host key and a client key the lab generates in `<dir>/ssh/`, and an Ansible
 * inventory (`<dir>/ansible/inventory.yml`) for the client namespace with each node's address,
 * key, pinned host key, install root and how to run intentlb there. `lab exec` points
 * `ANSIBLE_INVENTORY` at it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { emitYaml } from '../render/yaml-emit.ts';
import { BIN } from '../runtime/paths.ts';
import type { LabProcess, SpawnSpec } from './processes.ts';
import { waitForLog } from './processes.ts';
import type { LabState } from './state.ts';

const SSHD = '/usr/sbin/sshd';
const READY_MS = 15_000;

export function sshDir(labDir: string): string {
  return join(labDir, 'ssh');
}

/** The inventory the client namespace uses (`ANSIBLE_INVENTORY` in `lab exec`). */
export function labInventory(labDir: string): string {
  return join(labDir, 'ansible', 'inventory.yml');
}

function keygen(path: string, comment: string): string {
  if (!existsSync(path)) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], {
      stdio: 'pipe',
    });
  }
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

/** The sshd configuration of one node: key login as root only, on the node's own addresses. */
export function sshdConfig(o: {
  addresses: string[];
  hostKey: string;
  pidFile: string;
  authorizedKeys: string;
}): string {
  return `${[
    ...o.addresses.map((a) => `ListenAddress ${a.includes(':') ? `[${a}]` : a}:22`),
    `HostKey ${o.hostKey}`,
    `PidFile ${o.pidFile}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The lab's folder lives under /run, whose modes sshd's StrictModes does not expect of a home.
    'StrictModes no',
    'Subsystem sftp internal-sftp',
  ].join('\n')}\n`;
}

/**
 * Generates the keys, starts one sshd per LB node (recorded through `spawn`), writes known_hosts and
 * the inventory. Returns when every sshd listens.
 */
export async function startSsh(s: LabState, spawn: (spec: SpawnSpec) => LabProcess): Promise<void> {
  const dir = sshDir(s.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // sshd's privilege separation directory (Debian's unit creates it with RuntimeDirectory=).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const clientKey = join(dir, 'id_ed25519');
  writeFileSync(join(dir, 'authorized_keys'), `${keygen(clientKey, 'intentlb-lab-admin')}\n`, {
    mode: 0o600,
  });
  const known: string[] = [];
  const hosts: Record<string, Record<string, string | string[]>> = {};
  const started: Promise<void>[] = [];
  for (const n of s.nodes) {
    const host = s.topology.hosts.find((h) => h.name === n.name)!;
    const addresses = host.addresses.map((a) => a.address);
    const nodeDir = join(dir, n.name);
    mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
    const hostKey = join(nodeDir, 'ssh_host_ed25519_key');
    const pub = keygen(hostKey, `intentlb-lab-${n.name}`).split(' ').slice(0, 2).join(' ');
    for (const a of addresses) known.push(`${a} ${pub}`);
    const config = join(nodeDir, 'sshd_config');
    writeFileSync(
      config,
      sshdConfig({
        addresses,
        hostKey,
        pidFile: join(nodeDir, 'sshd.pid'),
        authorizedKeys: join(dir, 'authorized_keys'),
      }),
    );
    const p = spawn({
      kind: 'sshd',
      host: n.name,
      ns: host.ns,
      command: [SSHD, '-D', '-e', '-f', config],
      log: join(s.dir, 'logs', `${n.name}-sshd.log`),
    });
    started.push(waitForLog(p, (t) => t.includes('Server listening on'), READY_MS, `sshd on ${n.name}`));
    hosts[n.name] = {
      ansible_host: addresses[0]!,
      ansible_user: 'root',
      ansible_ssh_private_key_file: clientKey,
      ansible_ssh_common_args: `-o UserKnownHostsFile=${join(dir, 'known_hosts')} -o StrictHostKeyChecking=yes`,
      ansible_control_path_dir: join(dir, 'cp'),
      intentlb_root: n.root,
      intentlb_command: [process.execPath, BIN],
    };
  }
  writeFileSync(join(dir, 'known_hosts'), `${known.join('\n')}\n`);
  mkdirSync(join(s.dir, 'ansible'), { recursive: true });
  writeFileSync(
    labInventory(s.dir),
    `# Written by intentlb lab up: the LB nodes over SSH, for rollout from the client.\n${emitYaml({ all: { hosts } })}\n`,
  );
  await Promise.all(started);
}

/**
 * Whether the client may reach the nodes' SSH port: the nodes' nftables allow SSH from
 * `management.allow` only (everyone when it is empty). Returns a warning, or null.
 */
export function managementWarning(s: LabState, allow: readonly string[]): string | null {
  if (allow.length === 0) return null;
  const client = s.topology.hosts.find((h) => h.name === 'client');
  const addr = client?.addresses.find((a) => !a.address.includes(':'))?.address;
  if (addr === undefined) return null;
  const ok = allow.some((p) => {
    try {
      const [net, len] = ipaddr.parseCIDR(p);
      const a = ipaddr.parse(addr);
      return a.kind() === net.kind() && a.match(net, len);
    } catch {
      return false;
    }
  });
  return ok
    ? null
    : `the client (${addr}) is not in management.allow: the nodes' firewall drops its SSH, so rollout from the client cannot reach them`;
}
