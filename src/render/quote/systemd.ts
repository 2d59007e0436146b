import { refuseUnless } from './refusal.ts';

/**
 * systemd unit words: paths in Exec lines and Environment assignments. Specifiers (`%`), quotes,
 * `$`, `\` and white space would all be interpreted, so only plain path characters pass.
 */
export function path(s: string): string {
  return refuseUnless('systemd path', s, /^\/[A-Za-z0-9_./@+,-]*$/, 'not an absolute plain path');
}
