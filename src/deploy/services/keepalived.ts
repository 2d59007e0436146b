import { existsSync, readFileSync } from 'node:fs';
import { findTool } from '../../build/run-tool.ts';
import type { NodeLayout } from '../../render/types.ts';
import type { NodeService } from './types.ts';

function pidFile(layout: NodeLayout): string {
  return `${layout.run}/keepalived.pid`;
}

/**
 * The running keepalived's PID from its pid file, or undefined. A keepalived killed by SIGKILL
 * leaves its file behind (under systemd until the restart, for good when the unit was stopped
 * after the crash), and the PID may since belong to another process, which SIGHUP would end: the
 * PID counts only while `/proc/<pid>/comm` says keepalived.
 */
export function runningKeepalived(layout: NodeLayout): number | undefined {
  if (!existsSync(pidFile(layout))) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile(layout), 'utf8'), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'keepalived' ? pid : undefined;
  } catch {
    return undefined; // no such process
  }
}

/** keepalived on VRRP nodes (its file is rendered only there). */
export const keepalived: NodeService = {
  name: 'keepalived',
  files: ['keepalived/keepalived.conf'],
  verb: 'reload',
  phase: 'after-instances',
  applies: () => true,
  async act({ layout, control }) {
    const pid = runningKeepalived(layout);
    if (pid !== undefined) process.kill(pid, 'SIGHUP');
    else await control.start('keepalived');
  },
  unit: {
    spec: (layout) => ({
      command: findTool('keepalived') ?? 'keepalived',
      args: [
        '-n',
        '-l',
        '-f',
        `${layout.etc}/keepalived/keepalived.conf`,
        '-p',
        pidFile(layout),
        '-r',
        `${layout.run}/keepalived-vrrp.pid`,
        '-c',
        `${layout.run}/keepalived-checkers.pid`,
      ],
      readySocket: null,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
    }),
    systemd: {
      description: 'keepalived for intentlb: VRRP for the VIPs',
      conflicts: 'keepalived.service',
      // keepalived re-reads its configuration on SIGHUP, as apply's reload does.
      reloadSignal: 'SIGHUP',
    },
  },
};
