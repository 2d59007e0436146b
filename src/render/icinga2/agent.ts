import { ConfigWriter } from '../emit.ts';
import { HEADER, type Renderer } from '../types.ts';
import { renderCommands } from './commands.ts';

/**
 * `icinga2/intentlb.conf` on each node: the CheckCommands its Icinga agent runs for the master
 * (`command_endpoint`). The hosts and services are the site's, rendered once for the master
 * (`renderIcingaSite`), so no object exists on two nodes.
 */
export const renderIcinga2: Renderer = (model, node) => {
  const w = new ConfigWriter('  ');
  w.comment(HEADER, 0);
  w.comment(`site ${model.site.name}, node ${node.name}: the commands this node's Icinga agent runs`, 0);
  w.block(renderCommands());
  return [{ path: 'icinga2/intentlb.conf', content: w.toString() }];
};
