import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

/**
 * A copy of a site in `dest` whose HA mode is keepalived VRRP instead of anycast: the same nodes,
 * services and VIPs, so the lab can compare the two on the same topology and load.
 */
export function vrrpVariant(site: string, dest: string, advertInt = 1): string {
  cpSync(site, dest, { recursive: true });
  const file = join(dest, 'site.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.set('ha', { mode: 'vrrp', vrrp: { interface: 'eth0', router_id_base: 50, advert_int: advertInt } });
  writeFileSync(file, doc.toString());
  return dest;
}
