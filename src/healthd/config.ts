/**
 * healthd.yaml → the daemon's configuration: reads the file, checks it against its schema
 * (config-schema.ts) through the compiler's own path (yaml-schema/validate-file.ts) and maps it
 * onto the core's types. Every problem is reported at once as a {@link Diagnostic} (closed code,
 * file, line, column, path), printed as `intentlb check` prints a site's, so an operator who edited
 * the file by hand sees where it went wrong.
 *
 * Relative paths (sockets, pid files) are taken relative to the file's folder, which keeps test
 * and lab configurations portable; rendered files only hold absolute paths.
 */

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Diagnostic, diag, sortDiagnostics } from '../diagnostics/diagnostic.ts';
import { isMissing, messageOf } from '../errors.ts';
import { locate, parseSource } from '../load/source-file.ts';
import { validateFile } from '../yaml-schema/validate-file.ts';
import { crossCheck, healthdSchema, type RawHealthdConfig } from './config-schema.ts';
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
  /** The state file BIRD's configuration includes (absent: none is written). */
  readonly vipState?: string;
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

export interface ConfigResult {
  readonly config?: HealthdConfig;
  /** Every problem of the file, sorted by position; the configuration stands only when none does. */
  readonly diagnostics: readonly Diagnostic[];
  /** The file's text by its name, for code frames (empty when it could not be read). */
  readonly sources: ReadonlyMap<string, string>;
}

/** Reads and validates a healthd.yaml. Never throws for a user's mistake: problems come back as data. */
export async function loadHealthdConfig(file: string): Promise<ConfigResult> {
  const abs = resolve(file);
  const read = await readConfig(abs);
  if ('diagnostic' in read) return { diagnostics: [read.diagnostic], sources: new Map() };
  return parseHealthdConfig(read.text, abs);
}

/** Validates healthd.yaml text; `file` names it in diagnostics and anchors relative paths. */
export function parseHealthdConfig(text: string, file: string): ConfigResult {
  const sources = new Map([[file, text]]);
  const parsed = parseSource(file, text);
  if (parsed.diagnostics.length > 0) return { diagnostics: sortDiagnostics(parsed.diagnostics), sources };
  const source = parsed.file;
  const { value, diagnostics } = validateFile(source, healthdSchema, 'healthd.yaml');
  if (value === undefined || diagnostics.length > 0) {
    return { diagnostics: sortDiagnostics(diagnostics), sources };
  }
  const crossed = crossCheck(value, source);
  if (crossed.length > 0) return { diagnostics: sortDiagnostics(crossed), sources };
  return { config: toConfig(value, file), diagnostics: [], sources };
}

/**
 * Just the control socket path of a healthd.yaml, for clients: they must reach the running daemon
 * even when the file on disk has a problem elsewhere (the daemon keeps its last good configuration).
 */
export async function readControlPath(
  file: string,
): Promise<{ path?: string; diagnostics: readonly Diagnostic[]; sources: ReadonlyMap<string, string> }> {
  const abs = resolve(file);
  const read = await readConfig(abs);
  if ('diagnostic' in read) return { diagnostics: [read.diagnostic], sources: new Map() };
  const sources = new Map([[abs, read.text]]);
  const { file: source, diagnostics } = parseSource(abs, read.text);
  if (diagnostics.length > 0) return { diagnostics: sortDiagnostics(diagnostics), sources };
  const control = (source.data as { control?: unknown } | null)?.control;
  if (typeof control !== 'string' || control === '') {
    const problem = diag('E_TYPE', {
      message: '`control` (the control socket path) is required in healthd.yaml',
      at: locate(source, ['control'], 'value'),
      path: 'control',
    });
    return { diagnostics: [problem], sources };
  }
  return { path: isAbsolute(control) ? control : resolve(dirname(abs), control), diagnostics: [], sources };
}

/** The file's text, or why it cannot be read (E_MISSING_FILE, E_FILE) as a diagnostic. */
async function readConfig(abs: string): Promise<{ text: string } | { diagnostic: Diagnostic }> {
  try {
    return { text: await readFile(abs, 'utf8') };
  } catch (err) {
    return {
      diagnostic: diag(isMissing(err) ? 'E_MISSING_FILE' : 'E_FILE', {
        message: `cannot read: ${messageOf(err)}`,
        at: { file: abs, line: 1, column: 1 },
      }),
    };
  }
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

function toConfig(raw: RawHealthdConfig, file: string): HealthdConfig {
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
    bird: {
      socket: abs(raw.bird.socket),
      pollMs: raw.bird.poll_ms,
      timeoutMs: raw.bird.timeout_ms,
      ...(raw.bird.vip_state === undefined ? {} : { vipState: abs(raw.bird.vip_state) }),
    },
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
