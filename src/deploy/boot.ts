import { addressesOf } from './plan.ts';
import { currentGeneration, readGeneration, type Store } from './store.ts';
import { addAddress, loadNftables } from './system.ts';

/** The ruleset file of a generation (services/nftables.ts loads it on apply). */
const RULESET = 'nftables/intentlb.nft';

export interface BootResult {
  generation: number | null;
  addresses: string[];
  firewall: boolean;
}

/**
 * What a reboot takes away from a node and apply would not put back, since nothing changed: the
 * applied generation's VIP addresses on `lo` (anycast nodes) and its nftables ruleset. The
 * processes come back by themselves (their units are enabled); HAProxy cannot bind a VIP that is
 * not on `lo`, so systemd runs this (`intentlb boot`, intentlb-boot.service) before the instances.
 * Changes nothing else, and nothing at all on a node without an applied generation.
 */
export async function bootNode(
  store: Store,
  o: { manageAddresses: boolean; manageFirewall: boolean },
): Promise<BootResult> {
  const generation = currentGeneration(store);
  if (generation === null) return { generation, addresses: [], firewall: false };
  const files = readGeneration(store, generation);
  // Anycast nodes only: on VRRP nodes keepalived owns the VIPs.
  const addresses =
    o.manageAddresses && files.has('bird/intentlb.conf') ? [...addressesOf(files)].sort() : [];
  for (const a of addresses) await addAddress(a);
  const firewall = o.manageFirewall && files.has(RULESET);
  if (firewall) await loadNftables(`${store.layout.etc}/${RULESET}`);
  return { generation, addresses, firewall };
}
