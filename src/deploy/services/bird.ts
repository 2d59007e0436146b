import { readFileSync } from 'node:fs';
import { findTool } from '../../build/run-tool.ts';
import { isMissing } from '../../errors.ts';
import { birdPaths } from '../../render/bird/paths.ts';
import type { NodeLayout } from '../../render/types.ts';
import { BirdClient } from '../../runtime/bird-client.ts';
import { allDisabled, parseVipState, writeVipState } from '../../runtime/bird-vip-state.ts';
import { socketAnswers } from '../../runtime/socket-answers.ts';
import { ActionError } from '../errors.ts';
import type { PreStartStep } from '../units.ts';
import type { NodeService } from './types.ts';

/**
 * BIRD's niceness. With BFD at 50 ms × 3 a BIRD that gets no CPU for 150 ms takes its own sessions
 * down (the router sees a dead node); running ahead of ordinary work keeps a busy node in.
 */
export const BIRD_NICE = -10;

export function birdSocket(layout: NodeLayout): string {
  return birdPaths(layout).socket;
}

/**
 * Before every start of BIRD (first start, restart after a crash, boot): the link BIRD reads its
 * configuration through, and the state file reset to the generation's all-disabled copy, so that
 * BIRD never announces a VIP before healthd has checked it (ADR 0026).
 */
export function birdPreStart(layout: NodeLayout): PreStartStep[] {
  const p = birdPaths(layout);
  return [
    { command: '/bin/mkdir', args: ['-p', p.dir] },
    { command: '/bin/ln', args: ['-sfn', p.installed, p.config] },
    { command: '/bin/cp', args: [p.installedState, p.state] },
  ];
}

/**
 * Makes the live state file name exactly the installed configuration's protocols before BIRD
 * re-reads it. healthd's reload has written it when healthd runs (then nothing is left to do);
 * otherwise (no healthd, or one that does not write it) a protocol kept keeps its state, a new one
 * is disabled and a removed one is dropped. Without a healthd that answered, nothing is confirmed:
 * every VIP disabled.
 */
export function settleVipState(layout: NodeLayout, healthdAnswered: boolean): 'kept' | 'written' {
  const p = birdPaths(layout);
  const installedText = readIfThere(p.installedState);
  // A generation from before the state file (a rollback to it) includes none: nothing to settle.
  if (installedText === undefined) return 'kept';
  const installed = parseVipState(installedText);
  const live = parseVipState(readIfThere(p.state) ?? '');
  const same = live.size === installed.size && [...installed.keys()].every((k) => live.has(k));
  if (healthdAnswered && same) return 'kept';
  const next = allDisabled(installed.keys());
  if (healthdAnswered) for (const k of installed.keys()) next.set(k, live.get(k) ?? true);
  writeVipState(p.state, next);
  return 'written';
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** BIRD on anycast nodes: the BGP sessions and one static protocol per VIP. */
export const bird: NodeService = {
  name: 'bird',
  files: ['bird/intentlb.conf', 'bird/vip-state.conf'],
  verb: 'configure',
  phase: 'after-instances',
  applies: (flags) => flags.anycast,
  async act({ layout, control, hooks, log }) {
    if (await socketAnswers(birdSocket(layout))) {
      // The order keeps what is announced through the configure: healthd reads the new generation
      // and writes BIRD's state file for its VIPs (the new ones disabled), then BIRD reads both.
      const answered = await hooks.beforeBirdConfigure();
      if (settleVipState(layout, answered) === 'written') {
        log(
          `  bird: ${answered ? 'state file completed for the new VIPs' : 'no healthd: every VIP disabled'}`,
        );
      }
      const client = await BirdClient.connect(birdSocket(layout));
      try {
        const r = await client.configure();
        if (!r.ok) throw new ActionError(`bird configure: ${r.message}`);
      } finally {
        client.close();
      }
      // A safety net: healthd compares BIRD with what it confirmed now rather than at its next poll.
      await hooks.birdReconfigured();
    } else {
      // Not running: start it, under systemd as intentlb-bird.service (enabled, so it comes back
      // at boot), else under the built-in supervisor; it starts with every VIP disabled.
      await control.start('bird');
    }
  },
  unit: {
    spec: (layout) => {
      const p = birdPaths(layout);
      return {
        command: findTool('bird') ?? 'bird',
        args: ['-f', '-c', p.config, '-s', p.socket, '-P', p.pidFile],
        readySocket: p.socket,
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 5000,
        nice: BIRD_NICE,
        preStart: birdPreStart(layout),
      };
    },
    systemd: {
      description: 'BIRD for intentlb: BGP sessions with BFD, the VIP announcements',
      conflicts: 'bird.service',
    },
  },
};
