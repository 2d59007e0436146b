/**
 * What a healthd.yaml may hold: the zod schema of the file `intentlb build` renders (snake_case,
 * see src/render/healthd/config.ts), its defaults, and the checks that span several fields. Every
 * problem is a {@link Diagnostic} with a closed code, as the compiler reports a site's files.
 */

import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { type Diagnostic, diag } from '../diagnostics/diagnostic.ts';
import { locate, type PathSegment, type SourceFile } from '../load/source-file.ts';
import { hasStateSymbol } from '../runtime/bird-vip-state.ts';

export const DEFAULT_CONVERGE_MS = 500;
export const DEFAULT_BIRD_POLL_MS = 1000;
export const DEFAULT_BIRD_TIMEOUT_MS = 5000;
export const DEFAULT_HOOK_TIMEOUT_MS = 5000;

/** A BIRD symbol, as the renderer makes them (`vip_<name>`, `vip6_<name>`). */
const BIRD_SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VIP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const ms = (min: number) => z.int().min(min).max(86_400_000);
const path = z.string().min(1);
const ip = z.union([z.ipv4(), z.ipv6()]);
const cidr = z.union([z.cidrv4(), z.cidrv6()]);
/** A string that `accepts` takes, else E_ADDRESS at the value. */
const spelled = (accepts: z.ZodType, error: string) =>
  z.string().refine((s) => accepts.safeParse(s).success, { error, params: { code: 'E_ADDRESS' } });
const address = spelled(ip, 'expected an IPv4 or IPv6 address');
const hookCommand = z.union([
  z.string().min(1),
  z.array(z.string().min(1)).min(1, { error: 'a hook command needs at least the program' }),
]);

const checkSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('http'),
      address,
      port: z.int().min(1).max(65535),
      path: z.string().startsWith('/', { error: 'the monitor path starts with /' }),
      host: z.string().min(1).optional(),
      reuse_ms: z.int().min(0).max(86_400_000).optional(),
    }),
    z.strictObject({ kind: z.literal('tcp'), address, port: z.int().min(1).max(65535) }),
  ],
  { error: 'check.kind must be http or tcp' },
);

const vipSchema = z.strictObject({
  name: z.string().regex(VIP_NAME, { error: 'a VIP name is letters, digits, _ . -' }),
  prefixes: z.array(spelled(cidr, 'expected a prefix like 198.18.0.1/32')),
  protocols: z.array(z.string().regex(BIRD_SYMBOL, { error: 'expected a BIRD protocol name' })),
  check: checkSchema,
  interval_ms: ms(10),
  timeout_ms: ms(1),
  rise: z.int().min(1).max(1000),
  fall: z.int().min(1).max(1000),
  hold_down_ms: ms(0),
  hold_down_max_ms: ms(0).optional(),
  pidfile: path.optional(),
  exec: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        argv: z
          .array(z.string().min(1))
          .min(1, { error: 'an exec check needs at least the program' })
          .refine((a) => isAbsolute(a[0] ?? ''), { error: 'the program is an absolute path' }),
      }),
    )
    .optional(),
});

export const healthdSchema = z.strictObject({
  node: z.string().min(1),
  mode: z.enum(['anycast', 'vrrp', 'script', 'none']),
  bird: z.strictObject({
    socket: path,
    poll_ms: ms(100).default(DEFAULT_BIRD_POLL_MS),
    timeout_ms: ms(100).default(DEFAULT_BIRD_TIMEOUT_MS),
    /** The state file BIRD's configuration includes; healthd keeps it at what BIRD confirmed. */
    vip_state: path.optional(),
  }),
  control: path,
  state: path.optional(),
  listen: z.strictObject({ address, port: z.int().min(0).max(65535) }),
  converge_ms: ms(0).default(DEFAULT_CONVERGE_MS),
  hooks: z
    .strictObject({
      on_up: z.array(hookCommand).default([]),
      on_down: z.array(hookCommand).default([]),
      timeout_ms: ms(1).default(DEFAULT_HOOK_TIMEOUT_MS),
      kill_grace_ms: ms(0).optional(),
      retry_ms: ms(0).optional(),
      env: z.record(z.string().regex(/^INTENTLB_[A-Z0-9_]+$/), z.string()).optional(),
    })
    .default({ on_up: [], on_down: [], timeout_ms: DEFAULT_HOOK_TIMEOUT_MS }),
  peers: z
    .strictObject({
      interval_ms: ms(10),
      timeout_ms: ms(1),
      nodes: z.array(z.strictObject({ name: z.string().min(1), address, port: z.int().min(1).max(65535) })),
    })
    .optional(),
  vips: z.array(vipSchema),
});

/** A healthd.yaml that passed the schema (defaults filled in). */
export type RawHealthdConfig = z.output<typeof healthdSchema>;

/**
 * What the schema cannot see field by field: a VIP named twice, a BIRD protocol carrying two VIPs
 * (E_NAME_CONFLICT), an anycast VIP without protocols, a protocol the state file cannot name (with
 * `bird.vip_state`: `vip_<x>` and `vip6_<x>` only) and a hold-down cap below its start (E_TYPE).
 */
export function crossCheck(raw: RawHealthdConfig, source: SourceFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (segs: readonly PathSegment[]) => ({ at: locate(source, segs, 'value'), path: segs.join('.') });
  const names = new Map<string, number>();
  const protocols = new Map<string, string>();
  raw.vips.forEach((v, i) => {
    const first = names.get(v.name);
    if (first !== undefined) {
      out.push(
        diag('E_NAME_CONFLICT', {
          message: `VIP ${v.name} is already defined at vips.${first}`,
          ...at(['vips', i, 'name']),
        }),
      );
    } else names.set(v.name, i);
    v.protocols.forEach((p, j) => {
      const owner = protocols.get(p);
      if (owner !== undefined && owner !== v.name) {
        out.push(
          diag('E_NAME_CONFLICT', {
            message: `protocol ${p} already belongs to VIP ${owner}; a protocol carries one VIP`,
            ...at(['vips', i, 'protocols', j]),
          }),
        );
      } else protocols.set(p, v.name);
      if (raw.bird.vip_state !== undefined && !hasStateSymbol(p)) {
        out.push(
          diag('E_TYPE', {
            message: `protocol ${p} has no constant in bird.vip_state: expected vip_<name> or vip6_<name>`,
            ...at(['vips', i, 'protocols', j]),
          }),
        );
      }
    });
    if (raw.mode === 'anycast' && v.protocols.length === 0) {
      out.push(
        diag('E_TYPE', {
          message: 'an anycast VIP needs its BIRD protocols',
          ...at(['vips', i, 'protocols']),
        }),
      );
    }
    if (v.hold_down_max_ms !== undefined && v.hold_down_max_ms < v.hold_down_ms) {
      out.push(
        diag('E_TYPE', {
          message: `\`hold_down_max_ms\` must not be below hold_down_ms (${v.hold_down_ms})`,
          ...at(['vips', i, 'hold_down_max_ms']),
        }),
      );
    }
  });
  return out;
}
