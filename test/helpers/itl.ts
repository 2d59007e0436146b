import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ITL = '/usr/share/icinga2/include/command-plugins.conf';
const PLUGIN_DIR = '/usr/lib/nagios/plugins';

type Value = string | number | boolean | readonly string[];

/**
 * The command line Icinga 2 would run for an ITL CheckCommand and a service's variables, read
 * from the installed ITL itself (not a copy in the test): the plugin, then each argument whose
 * `value` macro is set (flag + value) or whose `set_if` macro is true (flag), in the ITL's order.
 * Enough of Icinga's argument rules for the plain `$var$` macros the generated objects use.
 */
export function itlCommandLine(command: string, vars: Readonly<Record<string, Value>>): string[] {
  const text = readFileSync(ITL, 'utf8');
  const start = text.indexOf(`object CheckCommand "${command}" {`);
  if (start < 0) throw new Error(`no CheckCommand ${command} in the ITL`);
  const body = text.slice(start, text.indexOf('\n}', start));
  const plugin = /command = \[ PluginDir \+ "\/([^"]+)" \]/.exec(body)?.[1];
  if (plugin === undefined) throw new Error(`${command}: no plugin`);
  const argv = [join(PLUGIN_DIR, plugin)];
  for (const m of body.matchAll(/^\t\t"([^"]+)" = \{\n([\s\S]*?)\n\t\t\}/gm)) {
    const flag = /key = "([^"]+)"/.exec(m[2]!)?.[1] ?? m[1]!;
    const valueVar = /^\s*value\s*=\s*"\$([a-z0-9_]+)\$"/m.exec(m[2]!)?.[1];
    const setIf = /^\s*set_if\s*=\s*"\$([a-z0-9_]+)\$"/m.exec(m[2]!)?.[1];
    if (setIf !== undefined) {
      if (vars[setIf] === true) argv.push(flag);
      continue;
    }
    if (valueVar === undefined || !(valueVar in vars)) continue;
    const v = vars[valueVar]!;
    if (typeof v === 'boolean') continue;
    for (const x of Array.isArray(v) ? v : [v]) argv.push(flag, String(x));
  }
  return argv;
}
