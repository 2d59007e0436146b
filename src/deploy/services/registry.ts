import { OperationError } from '../errors.ts';
import { bird } from './bird.ts';
import { healthd } from './healthd.ts';
import { keepalived } from './keepalived.ts';
import { nftables } from './nftables.ts';
import type { NodeService } from './types.ts';

/**
 * The node's services besides the HAProxy instances. Plan lists their actions in this order, and
 * apply runs the actions of one phase in it (BIRD reconfigures before healthd reloads).
 */
const services: NodeService[] = [bird, nftables, keepalived, healthd];

export function nodeServices(): readonly NodeService[] {
  return services;
}

export function nodeService(name: string): NodeService | undefined {
  return services.find((s) => s.name === name);
}

/** The services that run a process, by name, sorted: the node's units besides `haproxy@<instance>`. */
export function unitServiceNames(): string[] {
  return services
    .filter((s) => s.unit !== undefined)
    .map((s) => s.name)
    .sort();
}

/** The error for a unit name that is neither `haproxy@<instance>` nor a service's. */
export function unknownUnit(name: string): OperationError {
  return new OperationError(`unknown unit ${name} (haproxy@<instance>, ${unitServiceNames().join(', ')})`);
}

/**
 * Adds a service kept outside this folder (tests use it); returns what removes it again. Names are
 * unique and never `haproxy`, whose instances are units of their own.
 */
export function registerNodeService(service: NodeService): () => void {
  if (service.name === 'haproxy' || nodeService(service.name) !== undefined)
    throw new Error(`node service ${service.name} exists already`);
  if (!/^[a-z][a-z0-9-]*$/.test(service.name)) throw new Error(`bad node service name ${service.name}`);
  services.push(service);
  return () => {
    const i = services.indexOf(service);
    if (i >= 0) services.splice(i, 1);
  };
}
