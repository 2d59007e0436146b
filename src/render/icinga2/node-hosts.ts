import type { Model, NodeModel } from '../../model/index.ts';
import { HEALTHD_PORT } from '../healthd/config.ts';
import { NODE_COMMAND } from './commands.ts';
import { opt, type Var } from './frontend-checks.ts';
import type { Check, HostObject } from './objects.ts';

/** How a check of an LB node's own health is made, and for which sites. */
interface NodeCheck {
  applies(model: Model): boolean;
  checks(model: Model, node: NodeModel, revision: string): Check[];
}

/** `intentlb status --format nagios --check <what>`, run by the node's agent. */
function onNode(what: string, vars: Var[] = []): Check {
  return {
    name: what,
    port: 0,
    command: NODE_COMMAND,
    vars: [['intentlb_check', what], ...vars],
    onAgent: true,
  };
}

/** healthd's `/metrics` on the node's address, read by the master with check_http. */
function healthdMetrics(node: NodeModel, name: string, expect?: string): Check {
  return {
    name,
    port: HEALTHD_PORT,
    command: 'http',
    vars: [
      ['http_address', node.address],
      ['http_port', HEALTHD_PORT],
      ['http_uri', '/metrics'],
      ...opt(expect !== undefined, 'http_string', expect ?? ''),
    ],
  };
}

const always = (): boolean => true;

/**
 * The checks of each LB node, one descriptor per concern. The metric lines are the ones healthd
 * exports (src/healthd/metrics.ts: prom-client writes labels in the order they are set).
 */
const NODE_CHECKS: readonly NodeCheck[] = [
  { applies: always, checks: () => [onNode('instances')] },
  { applies: (m) => m.site.ha.mode === 'anycast', checks: () => [onNode('bgp')] },
  {
    applies: always,
    checks: (_m, _n, revision) => [onNode('revision', [['intentlb_revision', revision]])],
  },
  { applies: always, checks: (_m, n) => [healthdMetrics(n, 'healthd')] },
  {
    applies: always,
    checks: (m, n) =>
      m.instances.map((i) =>
        healthdMetrics(n, `healthd:${i.name}`, `intentlb_healthd_vip_state{vip="${i.name}",state="up"} 1`),
      ),
  },
];

/** One host per LB node (named like its Endpoint and Zone), with the node's health checks. */
export function nodeHosts(model: Model, revision: string): HostObject[] {
  return model.site.nodes.map((n) => ({
    name: n.name,
    displayName: `${n.name} (LB node of ${model.site.name})`,
    address: n.address,
    ...(n.address6 !== undefined && { address6: n.address6 }),
    vars: [
      ['intentlb_site', model.site.name],
      ['intentlb_node', n.name],
      ['intentlb_ha_mode', model.site.ha.mode],
    ],
    contacts: [],
    checks: NODE_CHECKS.filter((c) => c.applies(model)).flatMap((c) => c.checks(model, n, revision)),
  }));
}
