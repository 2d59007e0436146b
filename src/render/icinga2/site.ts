import type { Model } from '../../model/index.ts';
import { ConfigWriter } from '../emit.ts';
import { HEADER, type RenderedFile } from '../types.ts';
import { renderCommands } from './commands.ts';
import { nodeHosts } from './node-hosts.ts';
import { renderHost, renderServiceObjects } from './objects.ts';
import { renderZones } from './zones.ts';

/**
 * The site's Icinga 2 objects for the master, each once (`icinga2/` of the site tree):
 * `zones.conf` (an Endpoint and Zone per LB node), `commands.conf` (intentlb's CheckCommands),
 * `hosts.conf` (a host per LB node with its health checks, a host per service VIP, a host per
 * backend server). `revision` is the intent revision every node must have applied.
 */
export function renderIcingaSite(model: Model, revision: string): RenderedFile[] {
  const file = (path: string, what: string, body: string): RenderedFile => {
    const w = new ConfigWriter('  ');
    w.comment(HEADER, 0);
    w.comment(`site ${model.site.name}: ${what}`, 0);
    w.block(body);
    return { path, content: w.toString() };
  };
  const hosts = new ConfigWriter('  ');
  for (const h of nodeHosts(model, revision)) renderHost(hosts, h);
  renderServiceObjects(model, hosts);
  return [
    file(
      'icinga2/zones.conf',
      'an Endpoint and a Zone per LB node, children of the master zone',
      renderZones(model),
    ),
    file('icinga2/commands.conf', "intentlb's CheckCommands (the agents have the same)", renderCommands()),
    file('icinga2/hosts.conf', 'LB nodes, service VIPs and backend servers', hosts.toString()),
  ];
}
