/**
 * healthd.yaml → the daemon's configuration. The file is what `intentlb build` renders (snake_case,
 * see src/render/healthd/config.ts); this module validates it with zod and maps it onto the core's
 * types. Every problem is reported at once, each with the file, line, column and field path, so an
 * operator who edited the file by hand sees where it went wrong.
 *
 * Relative paths (sockets, pid files) are taken relative to the file's folder, which keeps test
 * and lab configurations portable; rendered files only hold absolute paths.
 */

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { locate, type PathSegment, parseSource } from '../load/source-file.ts';
import { DEFAULT_REUSE_MS } from './kept-http.ts';
import type { PeersConfig } from './peers.ts';
import type { VipConfig } from './types.ts';

/** A hook command: the program and its first arguments; the VIP name and state are appended. */
export type HookCommand = readonly [string, ...string[]];

export interface HooksConfig {
  readonly onUp: readonly HookCommand[];
  readonly onDown: readonly HookCommand[];
  readonly timeoutMs: number;
  /** From SIGTERM to SIGKILL when a command outlives `timeoutMs` (default 2000). */
  readonly killGraceMs?: number;
  /** A transition whose command failed runs again after this long (absent or 0: never). */
  readonly retryMs?: number;
  /** Added to every command's environment (e.g. INTENTLB_NODE). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface BirdLinkConfig {
  /** BIRD's control socket (`birdc -s`). */
  readonly socket: string;
  /** How often `show protocols` is compared with the desired state (catches `configure`). */
  readonly pollMs: number;
  /** Per BIRD command (or pipelined batch). */
  readonly timeoutMs: number;
}

export interface HealthdConfig {
  /** The file it was read from (absolute). */
  readonly file: string;
  readonly node: string;
  /**
   * Only `anycast` drives BIRD; `script` runs the failover script as its hooks and stands by while
   * a preferred peer serves a VIP; other modes run checks, hooks, metrics and status only.
   */
  readonly mode: 'anycast' | 'vrrp' | 'script' | 'none';
  readonly bird: BirdLinkConfig;
  /** The control socket (unix, JSON lines). */
  readonly control: string;
  /**
   * Where an operator's `drain` is remembered, so a node drained for maintenance stays drained
   * across a restart of healthd or of the machine until `undrain` (absent: not remembered).
   */
  readonly stateFile?: string;
  /** HTTP `/metrics` and `/status`. */
  readonly listen: { readonly address: string; readonly port: number };
  /** After a withdraw is confirmed by BIRD, wait this long for the network before reporting it done. */
  readonly convergeMs: number;
  readonly hooks: HooksConfig;
  /** Script failover: the preferred peers whose /status is read (absent: none, this node leads). */
  readonly peers?: PeersConfig;
  readonly vips: readonly VipConfig[];
}

export interface ConfigProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The field, e.g. `vips[2].check.port`; empty for the whole file. */
  readonly field: string;
  readonly message: string;
}

export interface ConfigResult {
  readonly config?: HealthdConfig;
  readonly problems: readonly ConfigProblem[];
}

export const DEFAULT_CONVERGE_MS = 500;
export const DEFAULT_BIRD_POLL_MS = 1000;
export const DEFAULT_BIRD_TIMEOUT_MS = 5000;
export const DEFAULT_HOOK_TIMEOUT_MS = 5000;

/** A BIRD symbol, as the renderer makes them (`vip_<name>`, `vip6_<name>`). */
const BIRD_SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VIP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const ms = (min: number) => z.int().min(min).max(86_400_000);
const path = z.string().min(1);
const address = z.union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' });
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
  prefixes: z.array(z.union([z.cidrv4(), z.cidrv6()], { error: 'expected a prefix like 198.18.0.1/32' })),
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

const schema = z.strictObject({
  node: z.string().min(1),
  mode: z.enum(['anycast', 'vrrp', 'script', 'none']),
  bird: z.strictObject({
    socket: path,
    poll_ms: ms(100).default(DEFAULT_BIRD_POLL_MS),
    timeout_ms: ms(100).default(DEFAULT_BIRD_TIMEOUT_MS),
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

type Raw = z.output<typeof schema>;

/** Reads and validates a healthd.yaml. Never throws for a user's mistake: problems come back as data. */
export async function loadHealthdConfig(file: string): Promise<ConfigResult> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { problems: [{ file: abs, line: 1, column: 1, field: '', message: `cannot read: ${reason}` }] };
  }
  return parseHealthdConfig(text, abs);
}

/** Validates healthd.yaml text; `file` names it in problems and anchors relative paths. */
export function parseHealthdConfig(text: string, file: string): ConfigResult {
  const { file: source, diagnostics } = parseSource(file, text);
  if (diagnostics.length > 0) {
    return {
      problems: diagnostics.map((d) => ({
        file,
        line: d.line,
        column: d.column,
        field: '',
        message: d.message,
      })),
    };
  }
  const parsed = schema.safeParse(source.data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue): ConfigProblem => {
      const segs = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
      // An unknown key is reported where it is written.
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const at = locate(source, keys.length > 0 ? [...segs, keys[0]!] : segs);
      const message =
        issue.code === 'unrecognized_keys'
          ? `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `\`${k}\``).join(', ')}`
          : issue.message;
      return { file, line: at.line, column: at.column, field: fieldName(segs), message };
    });
    return { problems: sortProblems(problems) };
  }
  const problems = crossCheck(parsed.data, (segs) => {
    const at = locate(source, segs);
    return { file, line: at.line, column: at.column, field: fieldName(segs) };
  });
  if (problems.length > 0) return { problems: sortProblems(problems) };
  return { config: toConfig(parsed.data, file), problems: [] };
}

/**
 * Just the control socket path of a healthd.yaml, for clients: they must reach the running daemon
 * even when the file on disk has a problem elsewhere (the daemon keeps its last good configuration).
 */
export async function readControlPath(file: string): Promise<{ path?: string; problem?: ConfigProblem }> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { problem: { file: abs, line: 1, column: 1, field: '', message: `cannot read: ${reason}` } };
  }
  const { file: source, diagnostics } = parseSource(abs, text);
  const first = diagnostics[0];
  if (first !== undefined) {
    return {
      problem: { file: abs, line: first.line, column: first.column, field: '', message: first.message },
    };
  }
  const control = (source.data as { control?: unknown } | null)?.control;
  if (typeof control !== 'string' || control === '') {
    const at = locate(source, ['control']);
    return {
      problem: {
        file: abs,
        line: at.line,
        column: at.column,
        field: 'control',
        message: 'no control socket path',
      },
    };
  }
  return { path: isAbsolute(control) ? control : resolve(dirname(abs), control) };
}

/** `file:line:column field: message`, one per line. */
export function formatConfigProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column} ${p.field === '' ? '' : `${p.field}: `}${p.message}`;
}

/** VIP names added, removed and changed (any field) between two configurations, each sorted. */
export function diffVips(
  before: readonly VipConfig[],
  after: readonly VipConfig[],
): { added: string[]; removed: string[]; changed: string[] } {
  const old = new Map(before.map((v) => [v.name, JSON.stringify(v)]));
  const next = new Map(after.map((v) => [v.name, JSON.stringify(v)]));
  return {
    added: [...next.keys()].filter((n) => !old.has(n)).sort(),
    removed: [...old.keys()].filter((n) => !next.has(n)).sort(),
    changed: [...next.keys()].filter((n) => old.has(n) && old.get(n) !== next.get(n)).sort(),
  };
}

function crossCheck(
  raw: Raw,
  where: (segs: readonly PathSegment[]) => Omit<ConfigProblem, 'message'>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = new Map<string, number>();
  const protocols = new Map<string, string>();
  raw.vips.forEach((v, i) => {
    const first = names.get(v.name);
    if (first !== undefined) {
      problems.push({
        ...where(['vips', i, 'name']),
        message: `VIP ${v.name} is already defined at vips[${first}]`,
      });
    } else names.set(v.name, i);
    v.protocols.forEach((p, j) => {
      const owner = protocols.get(p);
      if (owner !== undefined && owner !== v.name) {
        problems.push({
          ...where(['vips', i, 'protocols', j]),
          message: `protocol ${p} already belongs to VIP ${owner}; a protocol carries one VIP`,
        });
      } else protocols.set(p, v.name);
    });
    if (raw.mode === 'anycast' && v.protocols.length === 0) {
      problems.push({
        ...where(['vips', i, 'protocols']),
        message: 'an anycast VIP needs its BIRD protocols',
      });
    }
    if (v.hold_down_max_ms !== undefined && v.hold_down_max_ms < v.hold_down_ms) {
      problems.push({
        ...where(['vips', i, 'hold_down_max_ms']),
        message: `must not be below hold_down_ms (${v.hold_down_ms})`,
      });
    }
  });
  return problems;
}

function toConfig(raw: Raw, file: string): HealthdConfig {
  const base = dirname(file);
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const command = (c: string | string[]): HookCommand =>
    typeof c === 'string' ? [c] : (c as unknown as HookCommand);
  const vips = raw.vips.map((v): VipConfig => {
    const check =
      v.check.kind === 'http'
        ? {
            kind: 'http' as const,
            address: v.check.address,
            port: v.check.port,
            path: v.check.path,
            ...(v.check.host === undefined ? {} : { host: v.check.host }),
            reuseMs: v.check.reuse_ms ?? DEFAULT_REUSE_MS,
          }
        : { kind: 'tcp' as const, address: v.check.address, port: v.check.port };
    return {
      name: v.name,
      prefixes: v.prefixes,
      protocols: v.protocols,
      check,
      intervalMs: v.interval_ms,
      timeoutMs: v.timeout_ms,
      rise: v.rise,
      fall: v.fall,
      holdDownMs: v.hold_down_ms,
      ...(v.hold_down_max_ms === undefined ? {} : { holdDownMaxMs: v.hold_down_max_ms }),
      ...(v.pidfile === undefined ? {} : { pidfile: abs(v.pidfile) }),
      ...(v.exec === undefined
        ? {}
        : { exec: v.exec.map((e) => ({ name: e.name, argv: e.argv as unknown as [string, ...string[]] })) }),
    };
  });
  return {
    file,
    node: raw.node,
    mode: raw.mode,
    bird: { socket: abs(raw.bird.socket), pollMs: raw.bird.poll_ms, timeoutMs: raw.bird.timeout_ms },
    control: abs(raw.control),
    ...(raw.state === undefined ? {} : { stateFile: abs(raw.state) }),
    listen: { address: raw.listen.address, port: raw.listen.port },
    convergeMs: raw.converge_ms,
    hooks: {
      onUp: raw.hooks.on_up.map(command),
      onDown: raw.hooks.on_down.map(command),
      timeoutMs: raw.hooks.timeout_ms,
      ...(raw.hooks.kill_grace_ms === undefined ? {} : { killGraceMs: raw.hooks.kill_grace_ms }),
      ...(raw.hooks.retry_ms === undefined ? {} : { retryMs: raw.hooks.retry_ms }),
      ...(raw.hooks.env === undefined ? {} : { env: raw.hooks.env }),
    },
    ...(raw.peers === undefined
      ? {}
      : {
          peers: {
            intervalMs: raw.peers.interval_ms,
            timeoutMs: raw.peers.timeout_ms,
            nodes: raw.peers.nodes.map((n) => ({ name: n.name, address: n.address, port: n.port })),
          },
        }),
    vips,
  };
}

function fieldName(segs: readonly PathSegment[]): string {
  let out = '';
  for (const s of segs) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}
