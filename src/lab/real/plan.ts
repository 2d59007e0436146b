/**
 * Which ports of each backend host Debian's daemons serve instead of the built-in server: those of
 * a chosen protocol, without TLS, whose PROXY header (if any) the daemon accepts. One daemon per
 * (host, protocol, port), on every address of the host that port is asked on. The rest stays with
 * the built-in server, with a note saying why. Pure.
 */
import { compareAddresses } from '../addresses.ts';
import type { BackendPlan, PlannedPort } from '../backends.ts';
import { REAL_DAEMONS } from './daemons.ts';
import type { RealInstance, RealProtocol } from './types.ts';

export interface RealAssignment {
  plans: BackendPlan[];
  /** Ports of a chosen protocol the built-in server keeps, and why. */
  kept: string[];
}

/**
 * Moves the ports `real` asks for from the built-in server to real daemons. `trusted`: the LB
 * nodes' addresses, from which PROXY headers come.
 */
export function assignReal(
  plans: readonly BackendPlan[],
  real: readonly RealProtocol[],
  trusted: readonly string[],
): RealAssignment {
  const kept: string[] = [];
  const out = plans.map((plan) => {
    const groups = new Map<string, PlannedPort[]>();
    const builtin: PlannedPort[] = [];
    for (const p of plan.listen) {
      const protocol = real.find((r) => r === p.protocol);
      if (protocol === undefined) builtin.push(p);
      else groups.set(`${protocol}:${p.port}`, [...(groups.get(`${protocol}:${p.port}`) ?? []), p]);
    }
    const instances: RealInstance[] = [];
    for (const ports of groups.values()) {
      const first = ports[0]!;
      const protocol = first.protocol as RealProtocol;
      const daemon = REAL_DAEMONS[protocol];
      const why = refusal(ports, daemon.daemon, daemon.proxy);
      if (why !== undefined) {
        kept.push(`${plan.host} port ${first.port} (${protocol}): ${why}; the built-in server serves it`);
        builtin.push(...ports);
        continue;
      }
      instances.push({
        host: plan.host,
        protocol,
        daemon: daemon.daemon,
        name: `${daemon.daemon}-${first.port}`,
        port: first.port,
        addresses: ports.map((p) => p.address).sort(compareAddresses),
        ...(first.proxy !== undefined && first.proxy !== 'mixed' && { proxy: first.proxy }),
        trusted: [...trusted].sort(compareAddresses),
      });
    }
    builtin.sort((a, b) => compareAddresses(a.address, b.address) || a.port - b.port);
    instances.sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : 1));
    return { host: plan.host, listen: builtin, ...(instances.length > 0 && { real: instances }) };
  });
  return { plans: out, kept };
}

/** Why a daemon cannot serve these ports (one port, maybe several addresses), or undefined. */
function refusal(
  ports: readonly PlannedPort[],
  daemon: string,
  accepts: readonly string[],
): string | undefined {
  if (ports.some((p) => p.tls)) return `TLS to the server: ${daemon} is run without certificates`;
  const proxies = new Set(ports.map((p) => p.proxy ?? 'none'));
  if (proxies.size > 1 || proxies.has('mixed'))
    return 'some connections carry a PROXY header and others do not';
  const [proxy] = proxies;
  if (proxy !== 'none' && !accepts.includes(proxy!)) {
    return accepts.length === 0
      ? `PROXY ${proxy}: ${daemon} speaks no PROXY protocol`
      : `PROXY ${proxy}: ${daemon} takes ${accepts.join(' and ')} only`;
  }
  return undefined;
}
