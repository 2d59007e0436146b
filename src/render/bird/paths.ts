import { VIP_STATE_FILE } from '../../runtime/bird-vip-state.ts';
import type { NodeLayout } from '../types.ts';

/**
 * Where BIRD's files are on a node: shared by render (healthd.yaml), apply and the BIRD unit.
 *
 * BIRD reads its configuration through `<run>/bird/intentlb.conf`, a link to the installed
 * `<etc>/bird/intentlb.conf`, because BIRD resolves the relative `include "vip-state.conf"`
 * against the directory of the name it was given, not of the link's target: started from the
 * link, it includes the live state file next to it, which outlives a switch of generations;
 * `bird -p` on the installed or built file includes the all-disabled copy beside that (ADR 0026).
 */
export interface BirdPaths {
  /** The installed configuration (in the current generation). */
  installed: string;
  /** The generation's all-disabled state file. */
  installedState: string;
  /** The run directory BIRD's configuration is read from. */
  dir: string;
  /** The link BIRD is started with (`-c`). */
  config: string;
  /** The live state file, written by healthd, reset before BIRD starts. */
  state: string;
  socket: string;
  pidFile: string;
}

export function birdPaths(layout: NodeLayout): BirdPaths {
  const dir = `${layout.run}/bird`;
  return {
    installed: `${layout.etc}/bird/intentlb.conf`,
    installedState: `${layout.etc}/bird/${VIP_STATE_FILE}`,
    dir,
    config: `${dir}/intentlb.conf`,
    state: `${dir}/${VIP_STATE_FILE}`,
    socket: `${layout.run}/bird.ctl`,
    pidFile: `${layout.run}/bird.pid`,
  };
}
