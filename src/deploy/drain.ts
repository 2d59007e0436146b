import { writeAtomic } from '../fs/atomic.ts';
import { slug } from '../model/instances.ts';
import { instancePaths } from '../render/haproxy/paths.ts';
import { HaproxyClient } from '../runtime/haproxy-client.ts';
import { OperationError } from './errors.ts';
import { readManifest, type Store } from './store.ts';

export class DrainError extends OperationError {}

/**
 * Sets the servers of a service (or one of them) to `drain` or back to `ready` through the runtime
 * API — no reload — and saves the server state so a later reload or restart keeps it.
 * Returns `backend/server` of every server changed.
 */
export async function drainService(
  store: Store,
  service: string,
  server: string | undefined,
  state: 'drain' | 'ready',
): Promise<string[]> {
  const manifest = readManifest(store);
  if (manifest === null) throw new DrainError(`nothing installed under ${store.layout.etc}`);
  const id = service.replace(/\.ya?ml$/, '').replace(/^services\//, '');
  const instance = manifest.instances.find((i) => i.services.includes(id));
  if (instance === undefined) {
    const known = manifest.instances.flatMap((i) => i.services);
    throw new DrainError(`no service ${id} on node ${manifest.node} (services: ${known.join(', ')})`);
  }
  const p = instancePaths(store.layout, instance.name);
  const client = new HaproxyClient({ path: p.adminSocket }, { timeoutMs: 3000 });
  const base = `be_${slug(id)}`;
  const mine = (be: string): boolean =>
    be === base || new RegExp(`^${base.replace(/\./g, '\\.')}_route\\d+$`).test(be);
  const rows = (await client.showServersState()).filter(
    (r) => mine(r.be_name) && (server === undefined || r.srv_name === server),
  );
  if (rows.length === 0) {
    throw new DrainError(
      server === undefined ? `service ${id} has no servers` : `service ${id} has no server ${server}`,
    );
  }
  const changed: string[] = [];
  for (const r of rows) {
    await client.setServerState(r.be_name, r.srv_name, state);
    changed.push(`${r.be_name}/${r.srv_name}`);
  }
  writeAtomic(p.stateFile, await client.command('show servers state'));
  return changed;
}
