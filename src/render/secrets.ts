/**
 * Which generated files hold secrets, by path: their mode on disk (build output and every
 * installed generation) and what of them may be printed (`plan` diffs).
 *
 * - `certs/*.pem`: certificate chain and private key. Never printed. 0600: HAProxy loads them
 *   while it still runs as root (the master parses the configuration, and re-parses it on every
 *   reload, before the workers drop to `user haproxy`).
 * - `bird/intentlb.conf`: BGP session passwords (`ha.bgp.peers[].password`). Printed with each
 *   password masked. 0600: intentlb runs BIRD as root (its own `intentlb-bird.service` and the
 *   lab's supervisor start `bird` without `-u`/`-g`), so no group needs to read it; Debian's
 *   packaged BIRD, which would need 0640 root:bird, is not the one that reads this file.
 *
 * Every other file is 0644.
 */
interface SecretRule {
  matches(path: string): boolean;
  /** Replaces the secret values in a text that may be shown; undefined: never shown at all. */
  mask?: (text: string) => string;
}

/** `password "…";` as the BIRD renderer writes it, one per line, with BIRD's escapes. */
const BIRD_PASSWORD = /^(\s*password\s+)"(?:[^"\\\n]|\\.)*"/gm;

const RULES: readonly SecretRule[] = [
  { matches: (p) => p.startsWith('certs/') },
  {
    matches: (p) => p === 'bird/intentlb.conf',
    mask: (text) => text.replace(BIRD_PASSWORD, '$1"(secret)"'),
  },
];

export const FILE_MODE = 0o644;
export const SECRET_FILE_MODE = 0o600;

function ruleFor(path: string): SecretRule | undefined {
  return RULES.find((r) => r.matches(path));
}

/** The mode a generated file is written with. */
export function fileMode(path: string): number {
  return ruleFor(path) === undefined ? FILE_MODE : SECRET_FILE_MODE;
}

/**
 * The text of a generated file as it may be printed: unchanged, with its secrets masked, or
 * undefined when the whole file is secret.
 */
export function printable(path: string, text: string): string | undefined {
  const rule = ruleFor(path);
  if (rule === undefined) return text;
  return rule.mask?.(text);
}
