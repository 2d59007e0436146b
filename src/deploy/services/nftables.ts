import { loadNftables } from '../system.ts';
import type { NodeService } from './types.ts';

/** The node's nftables ruleset: loaded before the instances, whose new listeners it opens. */
export const nftables: NodeService = {
  name: 'nftables',
  files: ['nftables/intentlb.nft'],
  verb: 'load',
  phase: 'before-instances',
  applies: (flags) => flags.manageFirewall,
  async act({ layout, flags }) {
    if (flags.manageFirewall) await loadNftables(`${layout.etc}/nftables/intentlb.nft`);
  },
};
