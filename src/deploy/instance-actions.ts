import { existsSync } from 'node:fs';
import { messageOf } from '../errors.ts';
import { writeAtomic } from '../fs/atomic.ts';
import { instancePaths } from '../render/haproxy/paths.ts';
import type { NodeLayout } from '../render/types.ts';
import { HaproxyClient, MasterClient } from '../runtime/haproxy-client.ts';
import { ActionError } from './errors.ts';
import type { RuntimeOp } from './haproxy-diff.ts';
import { monitorEndpoint, waitServing } from './system.ts';

/** What the HAProxy instance actions of apply work with. */
export interface InstanceContext {
  layout: NodeLayout;
  log: (line: string) => void;
  /** How long a touched instance may take to answer its monitor URI. */
  verifyTimeoutMs: number;
}

/** A hitless reload through the master socket, which confirms the new workers. */
export async function reload(instance: string, ctx: InstanceContext): Promise<void> {
  const p = instancePaths(ctx.layout, instance);
  await dumpState(instance, ctx).catch(() => {});
  try {
    await new MasterClient({ path: p.masterSocket }).reload({ timeoutMs: 15_000 });
  } catch (err) {
    throw new ActionError(`haproxy@${instance}: reload failed: ${messageOf(err)}`, { cause: err });
  }
}

/** Saves the servers' runtime state (drain, maint, weights) so the next reload or start keeps it. */
export async function dumpState(instance: string, ctx: InstanceContext): Promise<void> {
  const p = instancePaths(ctx.layout, instance);
  if (!existsSync(p.adminSocket)) return;
  const text = await new HaproxyClient({ path: p.adminSocket }, { timeoutMs: 3000 }).command(
    'show servers state',
  );
  if (text.startsWith('1\n') || text.startsWith('1 ')) writeAtomic(p.stateFile, text);
}

/** Applies runtime API operations; false when HAProxy refused one (the caller reloads instead). */
export async function runtimeChange(
  instance: string,
  ops: readonly RuntimeOp[],
  ctx: InstanceContext,
): Promise<boolean> {
  const client = new HaproxyClient(
    { path: instancePaths(ctx.layout, instance).adminSocket },
    { timeoutMs: 3000 },
  );
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'add':
          await client.addServer(op.backend, op.server, {
            address: op.address,
            port: op.port,
            options: op.options,
            enableHealth: op.options.includes('check'),
          });
          break;
        case 'weight':
          await client.setServerWeight(op.backend, op.server, op.weight);
          break;
        case 'addr':
          await client.setServerAddr(op.backend, op.server, op.address, op.port);
          break;
        case 'del':
          // Out of rotation at once; deleted when its last connection has gone (bounded wait).
          await client.setServerState(op.backend, op.server, 'maint');
          for (let i = 0; ; i++) {
            try {
              await client.delServer(op.backend, op.server);
              break;
            } catch (err) {
              if (i >= 30) throw err;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          break;
      }
      ctx.log(`  haproxy@${instance}: ${describeRuntime(op)}`);
    }
    return true;
  } catch (err) {
    ctx.log(`  haproxy@${instance}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

function describeRuntime(op: RuntimeOp): string {
  if (op.op === 'weight') return `${op.backend}/${op.server} weight ${op.weight}`;
  if (op.op === 'addr') return `${op.backend}/${op.server} addr ${op.address}:${op.port}`;
  return `${op.op} server ${op.backend}/${op.server}`;
}

/**
 * Waits until a touched instance answers its monitor URI; throws when it does not. An answer of
 * 503 (no server up behind it) is not a failure: the instance is added to `degraded`.
 */
export async function verify(
  instance: string,
  ctx: InstanceContext,
  next: ReadonlyMap<string, string>,
  degraded: string[],
): Promise<void> {
  const config = next.get(`haproxy/${instance}.cfg`) ?? '';
  const ep = monitorEndpoint(config, instance);
  if (ep === null) throw new ActionError(`haproxy@${instance}: no monitor frontend in its configuration`);
  const status = await waitServing(ep, ctx.verifyTimeoutMs);
  if (status === null) {
    throw new ActionError(
      `haproxy@${instance}: its monitor URI http://${ep.host}:${ep.port}${ep.path} did not answer`,
    );
  }
  if (status === 503) {
    degraded.push(instance);
    ctx.log(`  warning: haproxy@${instance} serves, but no server behind it is up (monitor URI: 503)`);
  }
}
