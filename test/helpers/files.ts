import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file below a folder, relative, with `/`, sorted; [] when the folder does not exist. */
export function listFiles(dir: string, prefix = ''): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(dir, prefix));
  } catch {
    return [];
  }
  for (const n of names.sort()) {
    const rel = prefix ? `${prefix}/${n}` : n;
    if (statSync(join(dir, rel)).isDirectory()) out = out.concat(listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}
