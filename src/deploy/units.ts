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
  /** Environment on top of the supervisor's (systemd: `Environment=`). */
  env?: Readonly<Record<string, string>>;
  /** Scheduling niceness (systemd: `Nice=`; the supervisor runs the command under `nice -n`). */
  nice?: number;
}

/**
 * BIRD's niceness. With BFD at 50 ms × 3 a BIRD that gets no CPU for 150 ms takes its own sessions
 * down (the router sees a dead node); running ahead of ordinary work keeps a busy node in.
 */
export const BIRD_NICE = -10;

export { BIN };

/**
 * V8 options for the health checker. 750 checks a second allocate steadily (a socket and its
 * stream state each) and V8 would grow its young generation to 2 × 16 MiB and let the old one
 * reach ~2.5 × the live heap before collecting it: 100–120 MiB RSS on a 750-VIP node. 4 MiB
 * semi-spaces and old-generation growth of 50 % over the live heap (it stays proportional to the
 * node's size, unlike a fixed cap) hold it at ~85 MiB for no measurable CPU (bench/healthd/daemon.ts,
 * docs/adr/0010-healthd-cost.md).
 */
export const HEALTHD_NODE_OPTIONS = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

/**
 * Environment for the health checker, on top of the supervisor's own. glibc gives each thread
 * that allocates its own malloc arena (Node has a handful); two are plenty for healthd and save
 * ~5 MiB.
 */
export const HEALTHD_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

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
        nice: BIRD_NICE,
      };
    case 'healthd':
      return {
        name,
        command: process.execPath,
        args: [...HEALTHD_NODE_OPTIONS, BIN, 'healthd', '--config', `${layout.etc}/healthd.yaml`],
        readySocket: healthdSocket(layout),
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 10_000,
        env: HEALTHD_ENV,
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
