/**
 * A small client for HAProxy 2.6's runtime API: the stats/admin socket of a worker and the master
 * CLI of a master-worker (`-W -S`) process. One connection per command in non-interactive mode:
 * write `cmd\n`, half-close, read until HAProxy closes. The master CLI only answers and closes
 * after the client's half-close, so the write side is always ended right after the command.
 *
 * Success of a change is judged from HAProxy's answer: an empty answer or the command's known
 * success text; anything else throws a {@link HaproxyCommandError} carrying the answer.
 */
import { createConnection, isIP } from 'node:net';
import { IntentlbError } from '../errors.ts';
import {
  HaproxyCommandError,
  type ProcEntry,
  parseServersState,
  parseShowInfo,
  parseShowProc,
  parseShowStat,
  type ServerStateRow,
  type StatRow,
} from './haproxy-parse.ts';

export type { ProcEntry, ServerStateRow, StatRow } from './haproxy-parse.ts';
export { HaproxyCommandError } from './haproxy-parse.ts';

/** A unix socket path, or a TCP address (`stats socket ipv4@127.0.0.1:9999`, `-S 127.0.0.1:1234`). */
export type HaproxyTarget = { readonly path: string } | { readonly host: string; readonly port: number };

export interface HaproxyClientOptions {
  /** Per command: connect, send, and the whole answer. Default 5000 ms. */
  readonly timeoutMs?: number;
}

export interface CommandOptions {
  /**
   * Allow `;` (HAProxy's command separator) in the line: several commands in one connection.
   * Off by default so that a value can never smuggle a second command in.
   */
  readonly allowSemicolon?: boolean;
  readonly timeoutMs?: number;
}

/** A transport failure: connection refused, closed early, or no answer in time. */
export class HaproxyConnectionError extends IntentlbError {
  readonly command: string;
  constructor(command: string, message: string, options?: { cause?: unknown }) {
    super(`haproxy: '${command}': ${message}`, options);
    this.name = 'HaproxyConnectionError';
    this.command = command;
  }
}

const DEFAULT_TIMEOUT_MS = 5000;

function describeTarget(target: HaproxyTarget): string {
  return 'path' in target ? target.path : `${target.host}:${target.port}`;
}

function checkCommandLine(cmd: string, allowSemicolon: boolean): void {
  if (cmd.trim() === '') throw new Error('haproxy: empty command');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(cmd)) {
    throw new Error(
      `haproxy: refusing a command with a newline or control character: ${JSON.stringify(cmd)}`,
    );
  }
  if (!allowSemicolon && cmd.includes(';')) {
    throw new Error(`haproxy: refusing a command with ';' (several commands): ${JSON.stringify(cmd)}`);
  }
}

/** Sends one line on a fresh connection and returns everything HAProxy wrote until it closed. */
export function sendLine(target: HaproxyTarget, line: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket =
      'path' in target
        ? createConnection({ path: target.path })
        : createConnection({ host: target.host, port: target.port });
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err === undefined) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(err);
    };
    const timer = setTimeout(() => {
      finish(
        new HaproxyConnectionError(
          line,
          `no complete answer from ${describeTarget(target)} in ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.on('connect', () => socket.end(`${line}\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err) => {
      finish(new HaproxyConnectionError(line, `${describeTarget(target)}: ${err.message}`, { cause: err }));
    });
  });
}

/** HAProxy proxy and server names: letters, digits, `-`, `_`, `.`, `:`; or a numeric id `#<id>`. */
const NAME = /^(?:[A-Za-z0-9_.:-]+|#\d+)$/;
/** A keyword or value of `add server`: printable, no blank, no `;` or `\` (the CLI's separator and escape). */
const TOKEN = /^[!-~]+$/;

function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) throw new Error(`haproxy: invalid ${kind} name ${JSON.stringify(name)}`);
}

function checkToken(token: string): void {
  if (!TOKEN.test(token) || token.includes(';') || token.includes('\\')) {
    throw new Error(`haproxy: invalid server argument ${JSON.stringify(token)}`);
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`haproxy: invalid port ${port}`);
}

function serverRef(backend: string, server: string): string {
  checkName('backend', backend);
  checkName('server', server);
  return `${backend}/${server}`;
}

export type ServerAdminState = 'ready' | 'drain' | 'maint';
/** An absolute weight 0..256, or a percentage of the configured (initial) weight, e.g. `'50%'`. */
export type ServerWeight = number | `${number}%`;

export interface AddServerSpec {
  /** An IP address (IPv6 is bracketed for HAProxy) or a name (not resolved: dynamic servers use `init-addr none`). */
  readonly address: string;
  readonly port?: number;
  /** Further `server` keywords and values as separate tokens, e.g. `['weight', '10', 'check']`. */
  readonly options?: readonly string[];
  /** `enable server` after `add server` (a new dynamic server starts in maintenance). Default true. */
  readonly enable?: boolean;
  /** `enable health` after `add server` (needed when `options` has `check`). Default false. */
  readonly enableHealth?: boolean;
}

export interface DelServerOptions {
  /** Put the server in maintenance first (`del server` refuses a server that is not). Default false. */
  readonly maintFirst?: boolean;
}

/** Known success answers (HAProxy 2.6). `set server addr` reports what changed. */
const ADDR_CHANGED =
  /^(?:IP changed from '[^']*' to '[^']*'|no need to change the addr)(?:, (?:port changed from '[^']*' to '[^']*'|no need to change the port))? by 'stats socket command'$/;
const SERVER_REGISTERED = /^New server registered\.$/;
const SERVER_DELETED = /^Server deleted\.$/;

/**
 * Runtime API commands with typed answers, over any transport: a worker's stats socket
 * ({@link HaproxyClient}) or a worker reached through the master CLI ({@link MasterClient.worker}).
 */
export abstract class HaproxyRuntime {
  /** Sends one command line and returns HAProxy's raw answer. */
  abstract command(cmd: string, opts?: CommandOptions): Promise<string>;

  /**
   * Sends a change command; resolves when the answer is an empty line or matches `success`, throws
   * otherwise. No byte at all is not success: HAProxy ends every such answer with a newline, so
   * nothing means the connection closed before the command ran.
   */
  protected async change(cmd: string, success?: RegExp): Promise<string> {
    const answer = await this.command(cmd);
    if (answer === '') throw new HaproxyCommandError(cmd, answer, 'connection closed without an answer');
    const text = answer.trim();
    if (text === '' || (success?.test(text) ?? false)) return text;
    throw new HaproxyCommandError(cmd, answer);
  }

  /** `show stat`: every frontend, backend, server and listener with all columns. */
  async showStat(): Promise<StatRow[]> {
    return parseShowStat(await this.command('show stat'), 'show stat');
  }

  /** `show servers state [<backend>]`. */
  async showServersState(backend?: string): Promise<ServerStateRow[]> {
    if (backend !== undefined) checkName('backend', backend);
    const cmd = backend === undefined ? 'show servers state' : `show servers state ${backend}`;
    return parseServersState(await this.command(cmd), cmd);
  }

  /** `show info` as a record (`Pid`, `Version`, `Uptime_sec`, `CurrConns`, ...). */
  async showInfo(): Promise<Record<string, string>> {
    return parseShowInfo(await this.command('show info'), 'show info');
  }

  /** `set server <b>/<s> weight <w>`: absolute 0..256 or a percentage of the initial weight. */
  async setServerWeight(backend: string, server: string, weight: ServerWeight): Promise<void> {
    if (typeof weight === 'number') {
      if (!Number.isInteger(weight) || weight < 0 || weight > 256) {
        throw new Error(`haproxy: weight must be an integer 0..256, got ${weight}`);
      }
    } else if (!/^\d{1,3}%$/.test(weight)) {
      throw new Error(`haproxy: invalid relative weight ${JSON.stringify(weight)}`);
    }
    await this.change(`set server ${serverRef(backend, server)} weight ${weight}`);
  }

  /** `set server <b>/<s> state ready|drain|maint`. */
  async setServerState(backend: string, server: string, state: ServerAdminState): Promise<void> {
    if (state !== 'ready' && state !== 'drain' && state !== 'maint') {
      throw new Error(`haproxy: invalid server state ${JSON.stringify(state)}`);
    }
    await this.change(`set server ${serverRef(backend, server)} state ${state}`);
  }

  /**
   * `set server <b>/<s> addr <ip> [port <port>]`. Returns HAProxy's report (`IP changed from ...`
   * or `no need to change the addr ...`); any other answer, including a partial change, throws.
   */
  async setServerAddr(backend: string, server: string, addr: string, port?: number): Promise<string> {
    if (isIP(addr) === 0) throw new Error(`haproxy: ${JSON.stringify(addr)} is not an IP address`);
    if (port !== undefined) checkPort(port);
    const ref = serverRef(backend, server);
    return this.change(
      port === undefined ? `set server ${ref} addr ${addr}` : `set server ${ref} addr ${addr} port ${port}`,
      ADDR_CHANGED,
    );
  }

  /** `disable server <b>/<s>`: maintenance (same as state maint). */
  async disableServer(backend: string, server: string): Promise<void> {
    await this.change(`disable server ${serverRef(backend, server)}`);
  }

  /** `enable server <b>/<s>`: leaves maintenance (same as state ready). */
  async enableServer(backend: string, server: string): Promise<void> {
    await this.change(`enable server ${serverRef(backend, server)}`);
  }

  /** `enable health <b>/<s>`: starts the health check of a server that has `check`. */
  async enableHealth(backend: string, server: string): Promise<void> {
    await this.change(`enable health ${serverRef(backend, server)}`);
  }

  /** `disable health <b>/<s>`. */
  async disableHealth(backend: string, server: string): Promise<void> {
    await this.change(`disable health ${serverRef(backend, server)}`);
  }

  /**
   * `add server <b>/<s> <addr>[:<port>] [options]`, then `enable health` and `enable server` as asked.
   * The backend must use a dynamic algorithm (not `static-rr`, nor a map-based hash such as the
   * default of `balance source`); HAProxy answers an error otherwise.
   */
  async addServer(backend: string, server: string, spec: AddServerSpec): Promise<void> {
    const ref = serverRef(backend, server);
    checkToken(spec.address);
    if (spec.port !== undefined) checkPort(spec.port);
    for (const token of spec.options ?? []) checkToken(token);
    const host = isIP(spec.address) === 6 ? `[${spec.address}]` : spec.address;
    const addr = spec.port === undefined ? host : `${host}:${spec.port}`;
    const cmd = ['add', 'server', ref, addr, ...(spec.options ?? [])].join(' ');
    await this.change(cmd, SERVER_REGISTERED);
    if (spec.enableHealth === true) await this.enableHealth(backend, server);
    if (spec.enable ?? true) await this.enableServer(backend, server);
  }

  /**
   * `del server <b>/<s>`. HAProxy refuses a server not in maintenance (see `maintFirst`) and a
   * server that still has connections or a queue: drain it and wait before deleting.
   */
  async delServer(backend: string, server: string, opts: DelServerOptions = {}): Promise<void> {
    const ref = serverRef(backend, server);
    if (opts.maintFirst === true) await this.setServerState(backend, server, 'maint');
    await this.change(`del server ${ref}`, SERVER_DELETED);
  }
}

/** A worker's stats socket (`stats socket ... level admin`). */
export class HaproxyClient extends HaproxyRuntime {
  readonly target: HaproxyTarget;
  readonly timeoutMs: number;

  constructor(target: HaproxyTarget, opts: HaproxyClientOptions = {}) {
    super();
    this.target = target;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  override command(cmd: string, opts: CommandOptions = {}): Promise<string> {
    try {
      checkCommandLine(cmd, opts.allowSemicolon ?? false);
    } catch (err) {
      return Promise.reject(err);
    }
    return sendLine(this.target, cmd, opts.timeoutMs ?? this.timeoutMs);
  }
}

/** Which worker a command goes to through the master CLI: relative number (`@1`) or PID (`@!1234`). */
export type WorkerSelector = number | { readonly pid: number };

/** A worker reached through the master CLI: each command is prefixed with `@<n> ` or `@!<pid> `. */
class MasterWorkerRuntime extends HaproxyRuntime {
  readonly #master: MasterClient;
  readonly #prefix: string;

  constructor(master: MasterClient, which: WorkerSelector) {
    super();
    const n = typeof which === 'number' ? which : which.pid;
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`haproxy: invalid worker selector ${JSON.stringify(which)}`);
    this.#master = master;
    this.#prefix = typeof which === 'number' ? `@${n}` : `@!${n}`;
  }

  override async command(cmd: string, opts: CommandOptions = {}): Promise<string> {
    if (opts.allowSemicolon === true) {
      throw new Error(
        'haproxy: several commands through the master need a prefix each; send them one by one',
      );
    }
    checkCommandLine(cmd, false);
    const full = `${this.#prefix} ${cmd}`;
    const answer = await this.#master.command(full, opts);
    // The master's own answer when the prefix matches no process (HAProxy 2.6 has no status code).
    if (answer.startsWith("Can't find the target PID matching the prefix")) {
      throw new HaproxyCommandError(full, answer, 'no such worker');
    }
    return answer;
  }
}

export interface ReloadOptions {
  /** How long to wait for the new worker (or the failure) to show in `show proc`. Default 15000 ms. */
  readonly timeoutMs?: number;
  /** `show proc` polling interval. Default 100 ms. */
  readonly pollMs?: number;
}

export interface ReloadResult {
  readonly masterPid: number;
  /** The master's reload counter after this reload. */
  readonly reloads: number;
  /** PIDs of the new generation of workers. */
  readonly newWorkers: readonly number[];
  /** PIDs of the previous generation (leaving: they finish their connections, then exit). */
  readonly oldWorkers: readonly number[];
}

/** A reload HAProxy refused (invalid configuration: `[failed: N]`) or that did not complete in time. */
export class HaproxyReloadError extends IntentlbError {
  readonly processes: readonly ProcEntry[];
  constructor(message: string, processes: readonly ProcEntry[]) {
    super(message);
    this.name = 'HaproxyReloadError';
    this.processes = processes;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The master CLI of a master-worker HAProxy (`haproxy -W -S <socket>`). */
export class MasterClient {
  readonly target: HaproxyTarget;
  readonly timeoutMs: number;

  constructor(target: HaproxyTarget, opts: HaproxyClientOptions = {}) {
    this.target = target;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** One master CLI line (master commands, or `@<n> <cmd>` for a worker); returns the raw answer. */
  command(cmd: string, opts: CommandOptions = {}): Promise<string> {
    try {
      checkCommandLine(cmd, opts.allowSemicolon ?? false);
    } catch (err) {
      return Promise.reject(err);
    }
    return sendLine(this.target, cmd, opts.timeoutMs ?? this.timeoutMs);
  }

  /** `show proc`: the master, current workers (with their relative number), old workers, programs. */
  async showProc(): Promise<ProcEntry[]> {
    return parseShowProc(await this.command('show proc'), 'show proc');
  }

  /** A worker's runtime API through the master: `@1` by default. */
  worker(which: WorkerSelector = 1): HaproxyRuntime {
    return new MasterWorkerRuntime(this, which);
  }

  /**
   * `reload` on the master CLI, verified. In 2.6 the command answers nothing and the master
   * re-executes itself; the outcome is only visible in `show proc`: the master's reload counter
   * grows, and either a new worker generation appears (success) or `[failed: N]` is non-zero
   * (the new configuration was refused; the old workers keep running).
   */
  async reload(opts: ReloadOptions = {}): Promise<ReloadResult> {
    const timeoutMs = opts.timeoutMs ?? 15000;
    const pollMs = opts.pollMs ?? 100;
    const before = await this.showProc();
    const masterBefore = before.find((p) => p.type === 'master');
    if (masterBefore === undefined) throw new HaproxyReloadError('haproxy: no master in show proc', before);
    const previous = new Set(before.filter((p) => p.type === 'worker').map((p) => p.pid));

    try {
      const answer = await this.command('reload');
      if (answer.trim() !== '') throw new HaproxyCommandError('reload', answer);
    } catch (err) {
      // The master re-executes itself and may drop this connection: `show proc` tells what happened.
      if (!(err instanceof HaproxyConnectionError)) throw err;
    }

    const deadline = Date.now() + timeoutMs;
    let last: ProcEntry[] = before;
    let lastError: unknown;
    for (;;) {
      await sleep(pollMs);
      try {
        last = await this.showProc();
        lastError = undefined;
        const master = last.find((p) => p.type === 'master');
        if (master !== undefined && master.reloads > masterBefore.reloads) {
          if ((master.failedReloads ?? 0) > 0) {
            throw new HaproxyReloadError(
              `haproxy: reload failed (master ${master.pid}: ${master.failedReloads} failed reload(s)); the previous workers keep running`,
              last,
            );
          }
          const fresh = last.filter((p) => p.type === 'worker' && p.current && !previous.has(p.pid));
          if (fresh.length > 0) {
            return {
              masterPid: master.pid,
              reloads: master.reloads,
              newWorkers: fresh.map((p) => p.pid),
              oldWorkers: [...previous],
            };
          }
        }
      } catch (err) {
        if (err instanceof HaproxyReloadError) throw err;
        // The master re-executes itself: a connection can fail meanwhile.
        lastError = err;
      }
      if (Date.now() >= deadline) {
        const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
        throw new HaproxyReloadError(`haproxy: reload not confirmed in ${timeoutMs} ms${why}`, last);
      }
    }
  }

  /**
   * Waits until none of `pids` is listed by `show proc` any more (old workers finish their
   * connections, bounded by `hard-stop-after`). Resolves with the PIDs still there at the deadline.
   */
  async waitForExit(
    pids: readonly number[],
    opts: { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<number[]> {
    const deadline = Date.now() + (opts.timeoutMs ?? 15000);
    for (;;) {
      const listed = new Set((await this.showProc()).map((p) => p.pid));
      const remaining = pids.filter((pid) => listed.has(pid));
      if (remaining.length === 0 || Date.now() >= deadline) return remaining;
      await sleep(opts.pollMs ?? 100);
    }
  }
}
