import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { findTool } from '../build/run-tool.ts';
import { instancePaths } from '../render/haproxy/paths.ts';
import type { NodeLayout } from '../render/types.ts';
import { BIN } from '../runtime/paths.ts';

/**
 * The processes a node runs, named like their systemd units: `haproxy@<instance>`, `bird`,
 * `healthd`, `keepalived`. Shared by the built-in supervisor and the systemd back-end.
 */
export interface UnitSpec {
  name: string;
  command: string;
  args: string[];
  /** Resolves when the process is ready to be talked to (its control socket answers). */
  readySocket: string | null;
  /** How to ask the process to stop gracefully. */
  stopSignal: NodeJS.Signals;
  /** How long a graceful stop may take before SIGKILL. */
  stopTimeoutMs: number;
}

export { BIN };

/**
 * V8 options for the health checker. One check a second per VIP allocates steadily (a socket and a
 * few buffers each), and V8 then grows its young generation to 2 × 16 MiB; 4 MiB semi-spaces
 * keep ~25 MiB of RSS off a 750-VIP node for a few more (cheap) scavenges. bench/healthd/daemon.ts.
 */
export const HEALTHD_NODE_OPTIONS = ['--max-semi-space-size=4'];

export function birdSocket(layout: NodeLayout): string {
  return `${layout.run}/bird.ctl`;
}

export function healthdSocket(layout: NodeLayout): string {
  return `${layout.run}/healthd.sock`;
}

/** The unit's command line, from the installed layout. Throws for an unknown unit name. */
export function unitSpec(layout: NodeLayout, name: string): UnitSpec {
  const at = name.indexOf('@');
  const kind = at < 0 ? name : name.slice(0, at);
  const arg = at < 0 ? '' : name.slice(at + 1);
  switch (kind) {
    case 'haproxy': {
      if (!/^[A-Za-z0-9_.-]+$/.test(arg)) throw new Error(`bad instance name in unit ${name}`);
      const p = instancePaths(layout, arg);
      return {
        name,
        command: findTool('haproxy') ?? 'haproxy',
        // Master-worker in the foreground; `reload` on the master socket re-executes the master
        // with the same arguments, so it re-reads the file through the `<etc>` link.
        args: ['-W', '-f', p.config, '-p', p.pidFile, '-S', `${p.masterSocket},mode,600`],
        readySocket: p.masterSocket,
        // SIGUSR1: soft stop, the workers finish their connections (bounded by hard-stop-after).
        stopSignal: 'SIGUSR1',
        stopTimeoutMs: 35_000,
      };
    }
    case 'bird':
      return {
        name,
        command: findTool('bird') ?? 'bird',
        args: [
          '-f',
          '-c',
          `${layout.etc}/bird/intentlb.conf`,
          '-s',
          birdSocket(layout),
          '-P',
          `${layout.run}/bird.pid`,
        ],
        readySocket: birdSocket(layout),
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 5000,
      };
    case 'healthd':
      return {
        name,
        command: process.execPath,
        args: [...HEALTHD_NODE_OPTIONS, BIN, 'healthd', '--config', `${layout.etc}/healthd.yaml`],
        readySocket: healthdSocket(layout),
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 10_000,
      };
    case 'keepalived':
      return {
        name,
        command: findTool('keepalived') ?? 'keepalived',
        args: [
          '-n',
          '-l',
          '-f',
          `${layout.etc}/keepalived/keepalived.conf`,
          '-p',
          `${layout.run}/keepalived.pid`,
          '-r',
          `${layout.run}/keepalived-vrrp.pid`,
          '-c',
          `${layout.run}/keepalived-checkers.pid`,
        ],
        readySocket: null,
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 5000,
      };
    default:
      throw new Error(`unknown unit ${name} (haproxy@<instance>, bird, healthd, keepalived)`);
  }
}

/** Whether a unix socket accepts a connection now. */
export function socketAnswers(path: string, timeoutMs = 500): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((done) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      done(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      done(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      done(false);
    });
  });
}
