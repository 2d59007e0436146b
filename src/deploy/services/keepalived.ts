import { existsSync, readFileSync } from 'node:fs';
import { findTool } from '../../build/run-tool.ts';
import type { NodeLayout } from '../../render/types.ts';
import type { NodeService } from './types.ts';

function pidFile(layout: NodeLayout): string {
  return `${layout.run}/keepalived.pid`;
}

/** keepalived on VRRP nodes (its file is rendered only there). */
export const keepalived: NodeService = {
  name: 'keepalived',
  files: ['keepalived/keepalived.conf'],
  verb: 'reload',
  phase: 'after-instances',
  applies: () => true,
  async act({ layout, control }) {
    if (existsSync(pidFile(layout))) {
      process.kill(Number.parseInt(readFileSync(pidFile(layout), 'utf8'), 10), 'SIGHUP');
    } else {
      await control.start('keepalived');
    }
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
    systemd: { description: 'keepalived for intentlb: VRRP for the VIPs', conflicts: 'keepalived.service' },
  },
};
