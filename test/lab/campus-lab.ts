import assert from 'node:assert/strict';
import { deriveTopology, inventoryHosts, type LabTopology } from '../../src/lab/topology.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { Model } from '../../src/model/index.ts';
import { validateSite } from '../../src/validate/index.ts';
import { campus } from '../helpers/campus.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;

/** examples/campus (changed by `mutate`) and its lab topology, for the router renderers. */
export async function campusLab(
  mutate?: (m: Model) => void,
): Promise<{ model: Model; topology: LabTopology }> {
  const model = structuredClone(await campus());
  mutate?.(model);
  const inventory = inventoryHosts(validateSite(load(diskFs(CAMPUS)).value).value!.groups);
  const r = deriveTopology({ model, inventory });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  return { model, topology: r.topology };
}

/** A VRRP version of the site's HA (the routing is then `onlink`). */
export function toVrrp(m: Model): void {
  m.site.ha = { mode: 'vrrp', vrrp: { interface: 'eth0', routerIdBase: 50, unicast: true, advertInt: 1000 } };
}
