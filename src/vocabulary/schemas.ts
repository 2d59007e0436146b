import { z } from 'zod';
import { isIPv4Mapped } from './addresses.ts';
import { NAME_LIMITS, NAME_PATTERN, type NameKind, nameProblem } from './names.ts';
import { CHECK_TYPES, PROTOCOL_NAMES } from './protocols.ts';
import {
  durationMs,
  hasControl,
  isControlCode,
  isHostname,
  isInjectionSafe,
  isStrictIP,
  isStrictIPv4,
  isStrictIPv6,
  isStrictPrefix,
} from './strings.ts';

/**
 * Zod schemas for every intent file. Every service field is optional at this level: defaults
 * supply them and inference completes them; `check` reports what is still missing.
 * A refinement tags its issue with the diagnostic code to use (`params.code`).
 */

const injection = { code: 'E_INJECTION' } as const;

/** A standard BGP community: two 16-bit numbers. */
function isCommunity(s: string): boolean {
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(s);
  return m !== null && Number(m[1]) <= 65535 && Number(m[2]) <= 65535;
}
const address = { code: 'E_ADDRESS' } as const;

/** A string used as a configuration token: no spaces, quotes, `#`, newlines or control characters. */
export const token = (what: string) =>
  z
    .string()
    .min(1)
    .refine(isInjectionSafe, {
      message: `${what} must be one token (no spaces, quotes, #, newlines)`,
      params: injection,
      abort: true,
    });

const safe = (what: string, ok: (s: string) => boolean, message: string, params: object = {}) =>
  token(what).refine(ok, { message, params });

export const hostname = safe('a host name', isHostname, 'not a valid host name');
export const ipv4 = safe(
  'an IPv4 address',
  isStrictIPv4,
  'not a strictly written IPv4 address (four decimal parts, e.g. 198.18.100.10)',
  address,
);
/** An IPv4-mapped IPv6 address (`::ffff:198.18.0.1`) is an IPv4 address: it belongs in the IPv4 field. */
const notMapped = (s: string) => !isIPv4Mapped(s);
export const ipv6 = safe('an IPv6 address', isStrictIPv6, 'not a valid IPv6 address', address).refine(
  notMapped,
  { message: 'an IPv4-mapped IPv6 address: write the IPv4 address in the IPv4 field', params: address },
);
export const ipAny = safe(
  'an address',
  (s) => isStrictIPv4(s) || isStrictIPv6(s),
  'not a strictly written IPv4 or IPv6 address',
  address,
);
export const prefix = safe(
  'a prefix',
  isStrictPrefix,
  'not a strictly written address prefix (e.g. 198.18.0.0/15)',
  address,
);
/**
 * `vip` holds an IPv4 and `vip6` an IPv6 address. Any strictly written address is accepted as an
 * address first, so one of the other family is reported as that mistake (`E_VIP_FAMILY`).
 */
const vipAddress = (family: 4 | 6) =>
  token(`an IPv${family} address`)
    .refine(isStrictIP, {
      message:
        family === 4
          ? 'not a strictly written IPv4 address (four decimal parts, e.g. 198.18.100.10)'
          : 'not a valid IPv6 address',
      params: address,
      abort: true,
    })
    // An IPv4-mapped address is the IPv4 address it maps: fine in `vip`, refused in `vip6`.
    .refine(
      family === 4 ? (s) => isStrictIPv4(s) || isIPv4Mapped(s) : (s) => isStrictIPv6(s) && notMapped(s),
      {
        message:
          family === 4
            ? 'holds an IPv6 address, which belongs in `vip6`'
            : 'holds an IPv4 address, which belongs in `vip`',
        params: { code: 'E_VIP_FAMILY' },
      },
    );
/**
 * Free display text (descriptions, notes): line breaks and tabs are fine, other control characters
 * and bidi overrides are not — they would reach generated files and the reviewer's terminal.
 */
const freeText = z.string().max(500).refine(isDisplayText, {
  message: 'free text may hold line breaks and tabs, but no other control or bidi-override characters',
  params: injection,
});

function isDisplayText(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x0a || c === 0x09) continue;
    if (isControlCode(c) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return false;
  }
  return true;
}

export const port = z.number().int().min(1).max(65535);
/**
 * A name of the site's own objects (node, peer, team, group, host, server, the site): the one name
 * grammar of `names.ts`, reported as `E_NAME`. A value that would inject syntax stays `E_INJECTION`.
 */
export const name = (kind: NameKind) =>
  token('a name')
    .superRefine((s, ctx) => {
      const problem = nameProblem(s, kind);
      if (problem !== undefined)
        ctx.addIssue({ code: 'custom', message: problem, params: { code: 'E_NAME' } });
    })
    .meta({ pattern: NAME_PATTERN.source, maxLength: NAME_LIMITS[kind] });
/** A name that stays inside one token but is not one of the site's objects (a cookie, an interface). */
const word = safe(
  'a name',
  (s) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s),
  'names use letters, digits, `_`, `.` and `-`',
);
/**
 * HAProxy keeps timers as signed 32-bit milliseconds (configuration.txt, 2.5 "Time format"):
 * 2147483647 ms, about 24.8 days, is the longest duration every target reads.
 */
export const MAX_DURATION_MS = 2_147_483_647;
/**
 * Whole milliseconds, seconds, minutes, hours or days, at most ten digits. No `us`: the renderers
 * write whole milliseconds, and a microsecond value would round to 0.
 */
export const DURATION_PATTERN = /^[1-9][0-9]{0,9}(ms|s|m|h|d)?$/;
const durationRange = `a duration is 1 ms to ${MAX_DURATION_MS} ms (~24.8 days, HAProxy's timer limit)`;
/**
 * A timeout or interval. 0 is refused: HAProxy reads `timeout client 0` as "no timeout", which
 * lets idle clients hold connections forever, and an interval of 0 means nothing.
 */
export const duration = z.union([
  z.number().int().min(1).max(MAX_DURATION_MS),
  token('a duration')
    .regex(DURATION_PATTERN, {
      message: 'a duration is a whole number of ms, s, m, h or d from 1 ms up, e.g. `2s`, `500ms`',
      abort: true,
    })
    .refine((s) => durationMs(s) <= MAX_DURATION_MS, durationRange),
]);
const urlPath = safe('a path', (s) => s.startsWith('/'), 'a path starts with `/`');

export const serverSchema = z.strictObject({
  name: name('server'),
  address: ipAny,
  port: port.optional(),
  weight: z.number().int().min(0).max(256).optional(),
  backup: z.boolean().optional(),
  maxconn: z.number().int().positive().optional(),
});

export const checkSchema = z.strictObject({
  type: z.enum(CHECK_TYPES).optional(),
  path: urlPath.optional(),
  host: hostname.optional(),
  // A string the answer must contain: spaces and quotes are fine (the renderer quotes it); line
  // breaks and control characters are not (HAProxy's strong quotes cannot hold them).
  expect: z
    .union([
      z.number().int().min(100).max(599),
      z
        .string()
        .min(1)
        .max(200)
        .refine((s) => !hasControl(s), {
          message: 'an expected string holds no line breaks or control characters',
          params: injection,
        }),
    ])
    .optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  rise: z.number().int().min(1).max(100).optional(),
  fall: z.number().int().min(1).max(100).optional(),
  port: port.optional(),
});

export const backendSchema = z.strictObject({
  group: name('group').optional(),
  servers: z.array(serverSchema).optional(),
  port: port.optional(),
  balance: z.enum(['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'uri', 'random']).optional(),
  check: checkSchema.optional(),
  sticky: z.enum(['cookie', 'source', 'none']).optional(),
  cookie: word.optional(),
  proxy_protocol: z.enum(['v1', 'v2']).optional(),
  transparent: z.boolean().optional(),
  ssl: z.boolean().optional(),
  ssl_verify: z.enum(['none', 'required']).optional(),
  maxconn: z.number().int().positive().optional(),
  timeouts: z
    .strictObject({ connect: duration.optional(), server: duration.optional(), queue: duration.optional() })
    .optional(),
});

export const routeSchema = z.strictObject({
  path_prefix: urlPath.optional(),
  host: hostname.optional(),
  backend: backendSchema,
});

export const redirectSchema = z.strictObject({
  path_prefix: urlPath.optional(),
  host: hostname.optional(),
  to: safe(
    'a redirect target',
    (s) => /^(https?:\/\/|\/)/.test(s),
    'a redirect target is an absolute URL or a path',
  ),
  code: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).optional(),
  keep_path: z.boolean().optional(),
});

export const monitoringSchema = z.strictObject({
  icinga: z.boolean().optional(),
  prometheus: z.boolean().optional(),
  url: urlPath.optional(),
  notes: freeText.optional(),
  contacts: z.array(word).optional(),
});

const serviceShape = {
  description: freeText.optional(),
  fqdn: z.union([hostname, z.array(hostname).min(1)]).optional(),
  vip: vipAddress(4).optional(),
  vip6: vipAddress(6).optional(),
  protocol: z.enum(PROTOCOL_NAMES as [string, ...string[]]).optional(),
  ports: z.array(port).min(1).optional(),
  ssl: z.boolean().optional(),
  ssl_redirect: z.boolean().optional(),
  hsts: z.union([z.boolean(), z.number().int().positive()]).optional(),
  backend: backendSchema.optional(),
  routes: z.array(routeSchema).optional(),
  redirects: z.array(redirectSchema).optional(),
  allow: z.array(prefix).optional(),
  maxconn: z.number().int().positive().optional(),
  timeouts: z
    .strictObject({
      client: duration.optional(),
      http_request: duration.optional(),
      http_keep_alive: duration.optional(),
    })
    .optional(),
  monitoring: monitoringSchema.optional(),
};

/** One service file. */
export const serviceSchema = z.strictObject(serviceShape);

/** A defaults.yaml: the same keys as a service, plus `lock:`. */
export const defaultsSchema = z.strictObject({
  ...serviceShape,
  lock: z
    .array(
      safe(
        'a dotted key',
        (s) => /^[a-z_]+(\.[a-z_]+)*$/.test(s),
        'a lock names a dotted key, e.g. backend.balance',
      ),
    )
    .optional(),
});

/**
 * VRRPv3 (what keepalived is told to speak) sends adverts in a 12-bit count of centiseconds:
 * 0.01 s to 40.95 s. keepalived reads at most two decimals, so the number as written (and
 * rendered) must have no more: 0.010000000000000002 is refused, not rounded.
 */
const advertInt = z
  .number()
  .min(0.01)
  .max(40.95)
  .refine((v) => /^\d+(\.\d{1,2})?$/.test(String(v)), 'advert_int is seconds with at most two decimals');

/** Stats ports per site: `management.stats_port_base` .. +9,999, one per HAProxy instance. */
export const PORT_SPAN = 10_000;

/** A Linux network interface name: at most 15 bytes (IFNAMSIZ 16 with the NUL); nft and ip refuse longer. */
const ifname = word.max(15);

const bgpPeer = z.strictObject({
  name: name('peer'),
  address: ipAny,
  as: z.number().int().min(1).max(4294967295),
  password: token('a password').optional(),
});

export const siteSchema = z.strictObject({
  site: name('site'),
  nodes: z
    .array(
      z.strictObject({
        name: name('node'),
        address: ipv4,
        address6: ipv6.optional(),
        interface: ifname.optional(),
      }),
    )
    .min(1),
  ha: z
    .strictObject({
      mode: z.enum(['anycast', 'vrrp', 'none']),
      bgp: z
        .strictObject({
          local_as: z.number().int().min(1).max(4294967295),
          peers: z.array(bgpPeer).min(1),
          bfd: z.union([z.boolean(), z.enum(['fast', 'conservative'])]).optional(),
          communities: z
            .array(safe('a community', isCommunity, 'a community is `asn:value`, both 0..65535'))
            .optional(),
          /** BIRD's bgp_med is a 32-bit unsigned attribute. */
          med: z.number().int().min(0).max(4294967295).optional(),
        })
        .optional(),
      vrrp: z
        .strictObject({
          interface: ifname,
          router_id_base: z.number().int().min(1).max(255),
          unicast: z.boolean().optional(),
          advert_int: advertInt.optional(),
        })
        .optional(),
    })
    .optional(),
  tls: z
    .strictObject({
      policy: z.enum(['modern', 'intermediate', 'old']).optional(),
      certs: token('a folder').optional(),
      hsts: z.union([z.boolean(), z.number().int().positive()]).optional(),
    })
    .optional(),
  instances: z.enum(['per-vip', 'per-group', 'single']).optional(),
  teams: z
    .record(
      name('team'),
      z.strictObject({
        path: token('a folder'),
        vip_pools: z.array(prefix).optional(),
        ports: z.array(port).optional(),
      }),
    )
    .optional(),
  dns: z.strictObject({ resolver: z.boolean().optional(), timeout: duration.optional() }).optional(),
  health: z
    .strictObject({
      port: port.optional(),
      // The monitor URI is also a word of keepalived's check script (VRRP): plain path characters only.
      path: safe(
        'a path',
        (p) => /^\/[A-Za-z0-9._~/%+=,@:-]*$/.test(p),
        'the monitor path is `/` and letters, digits, `._~/%+=,@:-`',
      ).optional(),
    })
    .optional(),
  management: z
    .strictObject({
      allow: z.array(prefix).optional(),
      /** Each HAProxy instance takes a stats port from base .. base + PORT_SPAN - 1. */
      stats_port_base: z
        .number()
        .int()
        .min(1)
        .max(65536 - PORT_SPAN)
        .optional(),
    })
    .optional(),
});

const hostEntry = z.union([ipAny, z.strictObject({ address: ipv4.optional(), address6: ipv6.optional() })]);

/** Our own inventory format. */
export const inventorySchema = z.strictObject({
  groups: z.record(
    name('group'),
    z.strictObject({ hosts: z.record(name('host'), hostEntry).nullable().optional() }).nullable(),
  ),
});

/** An Ansible YAML inventory: `all: { hosts?, children? }`, hosts with `ansible_host`. */
const ansibleHost = z
  .looseObject({ ansible_host: ipAny.optional(), ansible_host6: ipv6.optional() })
  .nullable();
type AnsibleGroup = {
  hosts?: Record<string, unknown> | null | undefined;
  children?: Record<string, AnsibleGroup | null> | null | undefined;
  vars?: unknown;
};
export const ansibleGroupSchema: z.ZodType<AnsibleGroup> = z.lazy(() =>
  z.looseObject({
    hosts: z.record(name('host'), ansibleHost).nullable().optional(),
    children: z.record(name('group'), ansibleGroupSchema.nullable()).nullable().optional(),
    vars: z.unknown().optional(),
  }),
);
export const ansibleInventorySchema = z.strictObject({ all: ansibleGroupSchema });

export const dnsSchema = z.record(hostname, z.union([ipAny, z.array(ipAny).min(1)]));

export type ServiceIntent = z.infer<typeof serviceSchema>;
export type DefaultsIntent = z.infer<typeof defaultsSchema>;
export type SiteIntent = z.infer<typeof siteSchema>;
export type BackendIntent = z.infer<typeof backendSchema>;
export type ServerIntent = z.infer<typeof serverSchema>;
export type CheckIntent = z.infer<typeof checkSchema>;
export type InventoryIntent = z.infer<typeof inventorySchema>;
