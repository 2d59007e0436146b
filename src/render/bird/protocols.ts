import type { InstanceModel } from '../../model/index.ts';
import { symbol as birdSymbol } from '../quote/bird.ts';

/** A BIRD static protocol that carries one address family of an instance's VIPs. */
export interface VipProtocol {
  name: string;
  family: 'ipv4' | 'ipv6';
  /** Host routes, e.g. `198.18.100.10/32`, `2001:db8:100::10/128`, sorted. */
  prefixes: string[];
}

/**
 * The static protocols of one HAProxy instance: `vip_<name>` for its IPv4 VIPs and `vip6_<name>`
 * for its IPv6 VIPs. BIRD 2 gives a static protocol a single channel, so a dual-stack instance
 * needs two; the health checker enables and disables them together. The distinct prefixes keep
 * `vip6_x` from colliding with an instance whose name ends in a family suffix.
 */
export function vipProtocols(inst: InstanceModel): VipProtocol[] {
  const v4 = inst.addresses.filter((a) => !a.includes(':'));
  const v6 = inst.addresses.filter((a) => a.includes(':'));
  const out: VipProtocol[] = [];
  if (v4.length > 0) {
    out.push({ name: `vip_${birdSymbol(inst.name)}`, family: 'ipv4', prefixes: v4.map((a) => `${a}/32`) });
  }
  if (v6.length > 0) {
    out.push({ name: `vip6_${birdSymbol(inst.name)}`, family: 'ipv6', prefixes: v6.map((a) => `${a}/128`) });
  }
  return out;
}

export { symbol as birdSymbol } from '../quote/bird.ts';
