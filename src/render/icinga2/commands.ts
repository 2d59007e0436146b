import { ConfigWriter } from '../emit.ts';
import { objectName } from '../quote/icinga2.ts';
import { icingaValue } from './values.ts';

/** The CheckCommand that runs `intentlb status --format nagios` on an LB node's Icinga agent. */
export const NODE_COMMAND = 'intentlb-node';

/**
 * intentlb's own CheckCommands: `intentlb-node` runs on the LB node (BGP sessions, the applied
 * intent revision, the HAProxy instances). The same text goes to the master (`commands.conf`) and
 * to every node (`icinga2/intentlb.conf`): with `command_endpoint` the master schedules the check
 * by name and the agent runs its own definition. `intentlb` is found on the agent's PATH.
 */
export function renderCommands(): string {
  const w = new ConfigWriter('  ');
  w.section(`object CheckCommand ${objectName(NODE_COMMAND)} {`);
  w.line(`command = ${icingaValue(['intentlb', 'status', '--format', 'nagios'])}`);
  w.line('arguments = {');
  w.line('"--check" = {', 2);
  w.line('value = "$intentlb_check$"', 3);
  w.line('required = true', 3);
  w.line('description = "instances, bgp or revision"', 3);
  w.line('}', 2);
  w.line('"--revision" = {', 2);
  w.line('value = "$intentlb_revision$"', 3);
  w.line('description = "the intent revision the node must have applied"', 3);
  w.line('}', 2);
  w.line('}');
  w.line('timeout = 30s');
  w.raw('}');
  return w.toString();
}
