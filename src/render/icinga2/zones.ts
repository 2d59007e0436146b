import type { Model } from '../../model/index.ts';
import { ICINGA_API_PORT } from '../../model/node-ports.ts';
import { ConfigWriter } from '../emit.ts';
import { objectName } from '../quote/icinga2.ts';
import { icingaValue } from './values.ts';

export { ICINGA_API_PORT };

/**
 * An Endpoint and a Zone per LB node for the master's `zones.conf`: each node's agent is a child
 * of the zone of the Icinga instance that loads the file (`ZoneName`, the master's own zone), and
 * the master connects to it on the node's address.
 */
export function renderZones(model: Model): string {
  const w = new ConfigWriter('  ');
  for (const n of model.site.nodes) {
    w.section(`object Endpoint ${objectName(n.name)} {`);
    w.line(`host = ${icingaValue(n.address)}`);
    w.line(`port = ${icingaValue(String(ICINGA_API_PORT))}`);
    w.raw('}');
    w.section(`object Zone ${objectName(n.name)} {`);
    w.line(`endpoints = ${icingaValue([n.name])}`);
    w.line('parent = ZoneName');
    w.raw('}');
  }
  return w.toString();
}
