import type { NodeLayout } from '../../render/types.ts';
import { BIN } from '../../runtime/paths.ts';
import type { NodeService } from './types.ts';

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

/** Whether the node runs healthd: anycast and script failover nodes do. */
export function runsHealthd(flags: { anycast: boolean; runsHealthd?: boolean }): boolean {
  return flags.runsHealthd ?? flags.anycast;
}

export function healthdSocket(layout: NodeLayout): string {
  return `${layout.run}/healthd.sock`;
}

/**
 * The health checker: announces each VIP through BIRD while this node serves it (anycast), or runs
 * the platform's failover script when it starts or stops serving it (script).
 */
export const healthd: NodeService = {
  name: 'healthd',
  files: ['healthd.yaml'],
  verb: 'reload',
  phase: 'after-instances',
  applies: runsHealthd,
  act: ({ hooks }) => hooks.healthdConfigChanged(),
  unit: {
    spec: (layout) => ({
      command: process.execPath,
      args: [...HEALTHD_NODE_OPTIONS, BIN, 'healthd', '--config', `${layout.etc}/healthd.yaml`],
      readySocket: healthdSocket(layout),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 10_000,
      env: HEALTHD_ENV,
    }),
    systemd: {
      description: 'intentlb healthd: announces each VIP while this node serves it',
      after: 'intentlb-bird.service',
    },
  },
};
