/**
 * intentlb's version: package.json is the one source. Read through the installation root, which
 * is the same from the sources and from the bundle (see paths.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './paths.ts';

let cached: string | undefined;

export function version(): string {
  cached ??= (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
