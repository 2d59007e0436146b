/** What several check kinds derive alike from a service: its VIPs, listeners and vantage points. */
import type { ListenerModel, ServiceModel } from '../../model/index.ts';
import { familyOf, prefixContains } from '../../vocabulary/strings.ts';
import type { Endpoint, PlanContext } from '../types.ts';

export interface Vip {
  address: string;
  /** Appended to check names: '' for the IPv4 VIP, '/v6' for the IPv6 one. */
  suffix: string;
}

export function vipsOf(s: ServiceModel): Vip[] {
  return [
    ...(s.vip === undefined ? [] : [{ address: s.vip, suffix: '' }]),
    ...(s.vip6 === undefined ? [] : [{ address: s.vip6, suffix: '/v6' }]),
  ];
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

const allowed = (s: ServiceModel, a: string): boolean => s.allow.some((p) => prefixContains(p, a));
const sameFamily = (a: string, b: string): boolean => familyOf(a) === familyOf(b);
const loopback = (a: string): boolean => LOOPBACK.some((p) => prefixContains(p, a));

/**
 * The endpoint to reach `vip` on `port` as an allowed client: from a local address inside the
 * service's allow list when it has one (the kernel's choice otherwise).
 */
export function endpoint(s: ServiceModel, vip: string, port: number, ctx: PlanContext): Endpoint {
  if (s.allow.length === 0) return { address: vip, port };
  const inside = ctx.local.find((a) => sameFamily(a, vip) && allowed(s, a));
  return { address: vip, port, ...(inside !== undefined && { source: inside }) };
}

/**
 * A local address outside the service's allow list, to show that the VIP refuses it. Loopback
 * only reaches the VIP on the node itself (`--node`).
 */
export function outsideSource(s: ServiceModel, vip: string, ctx: PlanContext): string | undefined {
  return ctx.local.find(
    (a) => sameFamily(a, vip) && !allowed(s, a) && (ctx.node !== undefined || !loopback(a)),
  );
}

/** The listener HTTP-level checks use: the TLS one that serves, else the plain one that serves. */
export function servingListener(s: ServiceModel): ListenerModel | undefined {
  if (s.mode !== 'http') return undefined;
  const serving = s.listeners.filter((l) => l.role === 'serve');
  return serving.find((l) => l.tls) ?? serving[0];
}

/** The name clients use: the first FQDN, or the VIP itself. */
export function hostOf(s: ServiceModel, vip: string): string {
  return s.fqdns[0] ?? vip;
}

/** The first VIP (IPv4 first): where checks that need not run per address go. */
export function firstVip(s: ServiceModel): Vip | undefined {
  return vipsOf(s)[0];
}
