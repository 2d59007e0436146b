import { findTool } from '../../build/run-tool.ts';
import type { NodeLayout } from '../../render/types.ts';
import { BirdClient } from '../../runtime/bird-client.ts';
import { socketAnswers } from '../../runtime/socket-answers.ts';
import { ActionError } from '../errors.ts';
import type { NodeService } from './types.ts';

/**
 * BIRD's niceness. With BFD at 50 ms × 3 a BIRD that gets no CPU for 150 ms takes its own sessions
 * down (the router sees a dead node); running ahead of ordinary work keeps a busy node in.
 */
export const BIRD_NICE = -10;

export function birdSocket(layout: NodeLayout): string {
  return `${layout.run}/bird.ctl`;
}

/** BIRD on anycast nodes: the BGP sessions and one static protocol per VIP. */
export const bird: NodeService = {
  name: 'bird',
  files: ['bird/intentlb.conf'],
  verb: 'configure',
  phase: 'after-instances',
  applies: (flags) => flags.anycast,
  async act({ layout, control, hooks }) {
    if (await socketAnswers(birdSocket(layout))) {
      const client = await BirdClient.connect(birdSocket(layout));
      try {
        const r = await client.configure();
        if (!r.ok) throw new ActionError(`bird configure: ${r.message}`);
      } finally {
        client.close();
      }
      // BIRD's configure puts every VIP protocol back to `disabled`: healthd re-enables what is
      // healthy now rather than at its next poll.
      await hooks.birdReconfigured();
    } else {
      // Not running: start it, under systemd as intentlb-bird.service (enabled, so it comes back
      // at boot), else under the built-in supervisor.
      await control.start('bird');
    }
  },
  unit: {
    spec: (layout) => ({
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
    }),
    systemd: {
      description: 'BIRD for intentlb: BGP sessions with BFD, the VIP announcements',
      conflicts: 'bird.service',
    },
  },
};
