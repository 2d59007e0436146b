/**
 * The name grammar. Every name a site gives — service folders and files, inventory groups and
 * hosts, LB nodes, BGP peers, teams, servers, the site itself — becomes part of a generated file's
 * structure: HAProxy section and server names, BIRD symbols, keepalived instances, Icinga object
 * names, nftables comments, systemd instance names, file and socket names. One grammar keeps every
 * one of those valid without quoting, so a name can never change the structure of what it lands in.
 *
 * A name is 1 to {@link NAME_MAX} characters from `a-z 0-9 - _ .`, starting and ending with a
 * letter or digit. Lowercase only: names that differ only in case would be one name on a
 * case-insensitive checkout, in DNS and to the people reading the configs. Each kind has its own
 * maximum length where a target demands a shorter one ({@link NAME_LIMITS}).
 *
 * Every name maps into each target unchanged, except BIRD, which allows only `A-Za-z0-9_` in a bare
 * symbol ({@link birdSymbol}). Names that map to one symbol (`a-b`, `a.b`, `a_b`) are reported as
 * `E_NAME_CONFLICT` where it matters (service ids, BGP peers).
 */

/** What a name names. */
export type NameKind =
  | 'service'
  | 'segment'
  | 'site'
  | 'team'
  | 'node'
  | 'peer'
  | 'group'
  | 'host'
  | 'server';

/**
 * The longest name of any kind: the length of one DNS label. Host and server names become host
 * names (Icinga host objects, lab hosts), and no name needs more.
 */
export const NAME_MAX = 63;

/** BIRD 2 refuses a symbol longer than 64 characters ("Symbol too long", `bird -p`). */
export const BIRD_SYMBOL_MAX = 64;

/**
 * The longest name of each kind, and why.
 *
 * - `service` — a whole service id (`web/typo3/www`). In `instances: per-vip` each HAProxy
 *   instance is named after a service id with `/` as `-`, and its VIPs are announced by the BIRD
 *   protocols `vip_<name>` and `vip6_<name>`: 64 − `vip6_`.length = 59. The same name is the
 *   instance's config file, systemd instance (`haproxy@<name>.service`), admin and master socket
 *   (`/run/intentlb/haproxy/<name>.master`, far below the 108-byte socket path limit), and the
 *   HAProxy sections `fe_<name>`, `be_<name>`, `monitor_<name>`, `stats_<name>`.
 * - `segment` — one folder or file name below services/; the id's own limit bounds it too, and with
 *   it how deep the loader ever walks (at most 30 folders).
 * - `site`, `team` — in `instances: single` the instance is named after the site, in `per-group`
 *   after the team: the same 59 as a service id.
 * - `node`, `peer` — BIRD names a session `bgp_<peer>` on a node and `<peer>_<node>` on the lab's
 *   router: two names of 31 and a `_` make 63, under BIRD's 64.
 * - `group`, `host`, `server` — {@link NAME_MAX}.
 */
export const NAME_LIMITS: Readonly<Record<NameKind, number>> = {
  service: BIRD_SYMBOL_MAX - 'vip6_'.length,
  segment: BIRD_SYMBOL_MAX - 'vip6_'.length,
  site: BIRD_SYMBOL_MAX - 'vip6_'.length,
  team: BIRD_SYMBOL_MAX - 'vip6_'.length,
  node: 31,
  peer: 31,
  group: NAME_MAX,
  host: NAME_MAX,
  server: NAME_MAX,
};

/** The characters of a name, whatever its kind. */
export const NAME_PATTERN = /^[a-z0-9](?:[a-z0-9_.-]*[a-z0-9])?$/;
const NAME = NAME_PATTERN;

/** Whether `s` is a valid name of `kind`. */
export function isName(s: string, kind: NameKind): boolean {
  return s.length <= NAME_LIMITS[kind] && NAME.test(s);
}

/** Whether `id` is a valid service id: names joined by `/`, at most `NAME_LIMITS.service` long. */
export function isServiceId(id: string): boolean {
  return id.length <= NAME_LIMITS.service && id.split('/').every((s) => isName(s, 'segment'));
}

/** What is wrong with a name, for a diagnostic; undefined when it is valid. */
export function nameProblem(s: string, kind: NameKind): string | undefined {
  if (s.length === 0) return 'a name may not be empty';
  if (s.length > NAME_LIMITS[kind]) return `longer than ${NAME_LIMITS[kind]} characters (${s.length})`;
  if (/[A-Z]/.test(s) && NAME.test(s.toLowerCase())) return 'names are lowercase';
  if (!NAME.test(s)) return 'names use a-z, 0-9, `-`, `_` and `.`, and start and end with a letter or digit';
  return undefined;
}

/** The grammar in words, for hints and the JSON Schema. */
export const NAME_RULE = 'a-z, 0-9, `-`, `_`, `.`; starts and ends with a letter or digit';

/** A name as a bare BIRD symbol: `-` and `.` (anything but `A-Za-z0-9_`) become `_`. */
export function birdSymbol(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}
