/**
 * A client for BIRD 2's control socket (the one `birdc` uses). One connection, commands answered
 * in order: the client keeps a queue so that one command (or one pipelined batch) is on the wire
 * at a time. Outcomes are judged by reply codes (see `bird-reply.ts`), never by message text.
 *
 * A timeout or a malformed reply closes the connection: replies could no longer be matched to
 * commands. The owner reconnects (healthd treats it as BIRD going down and coming back).
 */
import { createConnection, type Socket } from 'node:net';
import { IntentlbError } from '../errors.ts';
import {
  BirdCode,
  type BirdProtocol,
  type BirdProtocolState,
  type BirdReply,
  BirdReplyReader,
  type BirdRoute,
  parseProtocols,
  parseRoutes,
  replyMessage,
} from './bird-reply.ts';

export * from './bird-reply.ts';

export interface BirdClientOptions {
  /** For the connection and greeting, and per command (per chunk of a pipelined batch). Default 5000 ms. */
  readonly timeoutMs?: number;
}

/** The connection failed, closed, or a reply did not arrive in time. */
export class BirdConnectionError extends IntentlbError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`bird: ${message}`, options);
    this.name = 'BirdConnectionError';
  }
}

/** A query (`show ...`) answered with an error code. */
export class BirdReplyError extends IntentlbError {
  readonly command: string;
  readonly reply: BirdReply;
  constructor(command: string, reply: BirdReply) {
    super(`bird: '${command}' failed with ${String(reply.code).padStart(4, '0')}: ${replyMessage(reply)}`);
    this.name = 'BirdReplyError';
    this.command = command;
    this.reply = reply;
  }
}

/** A BIRD symbol (protocol name) usable bare and inside a quoted pattern without matching others. */
const PROTOCOL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkProtocolName(name: string): void {
  if (!PROTOCOL_NAME.test(name)) throw new Error(`bird: invalid protocol name ${JSON.stringify(name)}`);
}

function checkCommand(cmd: string): void {
  if (cmd.trim() === '') throw new Error('bird: empty command');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(cmd)) {
    throw new Error(`bird: refusing a command with a newline or control character: ${JSON.stringify(cmd)}`);
  }
}

export interface ProtocolChangeResult {
  readonly name: string;
  /** The state asked for. */
  readonly enabled: boolean;
  /** BIRD accepted the change or already was in that state (0009/0011, 0008/0010). */
  readonly ok: boolean;
  /** The protocol's state changed (0009 disabled, 0011 enabled), as opposed to already so. */
  readonly changed: boolean;
  /** The code that decided: 0008..0011 when ok, the error code (e.g. 8003 no such protocol) when not. */
  readonly code: number;
  /** BIRD's error message when not ok. */
  readonly error?: string;
  readonly reply: BirdReply;
}

export interface ProtocolSetResult extends ProtocolChangeResult {
  /** State read back by `show protocols` after the batch; absent when the protocol is not listed. */
  readonly state?: BirdProtocolState | (string & {});
  /**
   * The read-back agrees with the request: enabled → `up` or `start`; disabled → `down`, `flush`
   * or `stop` (a disabled protocol may still be flushing its routes).
   */
  readonly confirmed: boolean;
}

export interface SetProtocolsResult {
  /** Every change accepted and confirmed by the read-back. */
  readonly ok: boolean;
  readonly results: readonly ProtocolSetResult[];
  /** The whole `show protocols` read-back. */
  readonly protocols: readonly BirdProtocol[];
}

export interface ConfigureOptions {
  /** `configure check`: parse and validate only (0020 Configuration OK). */
  readonly check?: boolean;
  /** `configure soft`: filter changes do not restart protocols. */
  readonly soft?: boolean;
  /** Another file than the one BIRD was started with. */
  readonly file?: string;
}

export type ConfigureStatus = 'reconfigured' | 'in-progress' | 'queued' | 'checked' | 'failed';

export interface ConfigureResult {
  readonly ok: boolean;
  readonly status: ConfigureStatus;
  readonly code: number;
  /** BIRD's last line, e.g. the configuration error with file and line when not ok. */
  readonly message: string;
  readonly reply: BirdReply;
}

export interface ShowRouteOptions {
  /** Only routes from this protocol. */
  readonly protocol?: string;
  /** Only this table (default: BIRD's default tables). */
  readonly table?: string;
  /** `show route ... all`: attribute lines land in `details`. */
  readonly all?: boolean;
}

interface Pending {
  readonly expected: number;
  readonly replies: BirdReply[];
  readonly resolve: (replies: BirdReply[]) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

function enabledConfirmed(state: string | undefined, enabled: boolean): boolean {
  if (state === undefined) return false;
  return enabled
    ? state === 'up' || state === 'start'
    : state === 'down' || state === 'flush' || state === 'stop';
}

export class BirdClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  /** Resolves when the connection is gone (closed by either side, failed, or timed out). */
  readonly closed: Promise<void>;

  readonly #socket: Socket;
  readonly #reader = new BirdReplyReader();
  #pending: Pending | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #error: Error | undefined;
  #open = true;
  #greeting = '';
  #onClosed: () => void = () => {};

  private constructor(socketPath: string, timeoutMs: number) {
    this.socketPath = socketPath;
    this.timeoutMs = timeoutMs;
    this.closed = new Promise((resolve) => {
      this.#onClosed = resolve;
    });
    this.#socket = createConnection({ path: socketPath });
    this.#socket.on('data', (chunk: Buffer) => this.#data(chunk));
    this.#socket.on('error', (err) =>
      this.#fail(new BirdConnectionError(`${socketPath}: ${err.message}`, { cause: err })),
    );
    this.#socket.on('close', () => this.#fail(new BirdConnectionError(`${socketPath}: connection closed`)));
  }

  /** Connects and waits for BIRD's greeting (0001). */
  static async connect(socketPath: string, opts: BirdClientOptions = {}): Promise<BirdClient> {
    const client = new BirdClient(socketPath, opts.timeoutMs ?? 5000);
    try {
      const [hello] = await client.#exchange([], 1);
      if (hello === undefined || hello.code !== BirdCode.WELCOME) {
        throw new BirdConnectionError(
          `${socketPath}: unexpected greeting ${hello === undefined ? '(none)' : `${hello.code} ${replyMessage(hello)}`}`,
        );
      }
      client.#greeting = replyMessage(hello);
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** The greeting's text, e.g. `BIRD 2.0.12 ready.` */
  get greeting(): string {
    return this.#greeting;
  }

  /** The connection is usable. */
  get connected(): boolean {
    return this.#open;
  }

  /** Closes the connection; queued commands reject. */
  close(): void {
    this.#fail(new BirdConnectionError(`${this.socketPath}: closed by the client`));
  }

  /** One command; its reply (ok=false with the error code when BIRD refused it). */
  async command(cmd: string): Promise<BirdReply> {
    const [reply] = await this.commands([cmd]);
    return reply!;
  }

  /**
   * Several commands written back to back in one go; BIRD answers them in order. Resolves with
   * one reply per command. Queued behind (and ahead of) other commands of this client.
   */
  commands(cmds: readonly string[]): Promise<BirdReply[]> {
    try {
      if (cmds.length === 0) throw new Error('bird: no command');
      for (const cmd of cmds) checkCommand(cmd);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      const replies: BirdReply[] = [];
      for (const chunk of pipelineChunks(cmds)) replies.push(...(await this.#exchange(chunk, chunk.length)));
      return replies;
    });
  }

  /** `show protocols [all] ["pattern"]`. Throws {@link BirdReplyError} when BIRD answers an error. */
  async showProtocols(opts: { all?: boolean; name?: string } = {}): Promise<BirdProtocol[]> {
    if (opts.name !== undefined) checkProtocolName(opts.name);
    const cmd = [
      'show protocols',
      opts.all === true ? 'all' : '',
      opts.name === undefined ? '' : `"${opts.name}"`,
    ]
      .filter((s) => s !== '')
      .join(' ');
    const reply = await this.command(cmd);
    if (!reply.ok) throw new BirdReplyError(cmd, reply);
    return parseProtocols(reply);
  }

  /** `enable "name"`; already enabled counts as success. Unknown protocol: ok=false, code 8003. */
  async enableProtocol(name: string): Promise<ProtocolChangeResult> {
    return this.#change(name, true);
  }

  /** `disable "name"`; already disabled counts as success. Unknown protocol: ok=false, code 8003. */
  async disableProtocol(name: string): Promise<ProtocolChangeResult> {
    return this.#change(name, false);
  }

  async #change(name: string, enabled: boolean): Promise<ProtocolChangeResult> {
    checkProtocolName(name);
    return judgeChange(name, enabled, await this.command(changeCommand(name, enabled)));
  }

  /**
   * Several enable/disable changes pipelined, then one `show protocols` read-back in the same batch
   * (BIRD handles commands in order, so the read-back sees their effect). Per-protocol results;
   * `ok` only when every change was accepted and the read-back agrees.
   */
  async setProtocols(changes: readonly { name: string; enabled: boolean }[]): Promise<SetProtocolsResult> {
    const wanted = new Map<string, boolean>();
    for (const c of changes) {
      checkProtocolName(c.name);
      const seen = wanted.get(c.name);
      if (seen !== undefined && seen !== c.enabled) {
        throw new Error(`bird: protocol ${c.name} asked both enabled and disabled in one batch`);
      }
      wanted.set(c.name, c.enabled);
    }
    const list = [...wanted];
    const cmds = [...list.map(([name, enabled]) => changeCommand(name, enabled)), 'show protocols'];
    const replies = await this.commands(cmds);
    const readBack = replies[replies.length - 1]!;
    if (!readBack.ok) throw new BirdReplyError('show protocols', readBack);
    const protocols = parseProtocols(readBack);
    const states = new Map(protocols.map((p) => [p.name, p.state]));
    const results = list.map(([name, enabled], i): ProtocolSetResult => {
      const change = judgeChange(name, enabled, replies[i]!);
      const state = states.get(name);
      return {
        ...change,
        ...(state === undefined ? {} : { state }),
        confirmed: change.ok && enabledConfirmed(state, enabled),
      };
    });
    return { ok: results.every((r) => r.ok && r.confirmed), results, protocols };
  }

  /**
   * `configure [soft] ["file"]` or `configure check ["file"]`. Success codes: 0003 reconfigured,
   * 0004 in progress (protocols still restarting), 0005 queued behind a running reconfiguration,
   * 0020 for check. Anything else (8002 configuration error, 0006 shutting down, ...) is a failure.
   *
   * Note: in BIRD 2.0 a reconfiguration puts every protocol whose runtime enable/disable differs
   * from its configured `disabled` flag back to the configured state. Re-apply runtime changes after.
   */
  async configure(opts: ConfigureOptions = {}): Promise<ConfigureResult> {
    if (opts.file !== undefined && (opts.file === '' || /["\\]/.test(opts.file))) {
      throw new Error(`bird: unusable configuration file name ${JSON.stringify(opts.file)}`);
    }
    if (opts.check === true && opts.soft === true) throw new Error('bird: configure check cannot be soft');
    const cmd = [
      'configure',
      opts.check === true ? 'check' : '',
      opts.soft === true ? 'soft' : '',
      opts.file === undefined ? '' : `"${opts.file}"`,
    ]
      .filter((s) => s !== '')
      .join(' ');
    const reply = await this.command(cmd);
    const status = configureStatus(reply.code, opts.check === true);
    return { ok: status !== 'failed', status, code: reply.code, message: replyMessage(reply), reply };
  }

  /**
   * `show route [<prefix>] [table t] [protocol p] [all]`. A prefix BIRD does not have (8001) gives
   * an empty list; other errors throw {@link BirdReplyError}.
   */
  async showRoute(prefix?: string, opts: ShowRouteOptions = {}): Promise<BirdRoute[]> {
    if (prefix !== undefined && !/^[0-9A-Fa-f:.]+(?:\/\d{1,3})?$/.test(prefix)) {
      throw new Error(`bird: invalid prefix ${JSON.stringify(prefix)}`);
    }
    if (opts.protocol !== undefined) checkProtocolName(opts.protocol);
    if (opts.table !== undefined) checkProtocolName(opts.table);
    const cmd = [
      'show route',
      prefix ?? '',
      opts.table === undefined ? '' : `table ${opts.table}`,
      opts.protocol === undefined ? '' : `protocol ${opts.protocol}`,
      opts.all === true ? 'all' : '',
    ]
      .filter((s) => s !== '')
      .join(' ');
    const reply = await this.command(cmd);
    if (reply.code === BirdCode.ROUTE_NOT_FOUND) return [];
    if (!reply.ok) throw new BirdReplyError(cmd, reply);
    return parseRoutes(reply);
  }

  #enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  #exchange(cmds: readonly string[], expected: number): Promise<BirdReply[]> {
    if (!this.#open) return Promise.reject(this.#error ?? new BirdConnectionError('not connected'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          new BirdConnectionError(
            `${this.socketPath}: no reply in ${this.timeoutMs} ms to ${cmds.length === 0 ? 'the greeting' : JSON.stringify(cmds)}`,
          ),
        );
      }, this.timeoutMs);
      this.#pending = { expected, replies: [], resolve, reject, timer };
      if (cmds.length > 0) this.#socket.write(cmds.map((c) => `${c}\n`).join(''));
    });
  }

  #data(chunk: Buffer): void {
    let replies: BirdReply[];
    try {
      replies = this.#reader.push(chunk);
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const reply of replies) {
      const pending = this.#pending;
      if (pending === undefined) {
        this.#fail(new BirdConnectionError(`unsolicited reply ${reply.code}: ${replyMessage(reply)}`));
        return;
      }
      pending.replies.push(reply);
      if (pending.replies.length === pending.expected) {
        clearTimeout(pending.timer);
        this.#pending = undefined;
        pending.resolve(pending.replies);
      }
    }
  }

  #fail(err: Error): void {
    if (this.#open) {
      this.#open = false;
      this.#error = err;
      this.#socket.destroy();
      this.#onClosed();
    }
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      clearTimeout(pending.timer);
      pending.reject(err);
    }
  }
}

function changeCommand(name: string, enabled: boolean): string {
  // Quoted: a pattern, so an unknown name is 8003 "No protocols match" rather than a parse error.
  return `${enabled ? 'enable' : 'disable'} "${name}"`;
}

function judgeChange(name: string, enabled: boolean, reply: BirdReply): ProtocolChangeResult {
  const done = enabled ? BirdCode.ENABLED : BirdCode.DISABLED;
  const already = enabled ? BirdCode.ALREADY_ENABLED : BirdCode.ALREADY_DISABLED;
  const decisive = reply.lines.find((l) => l.code === done || l.code === already);
  if (reply.ok && decisive !== undefined) {
    return { name, enabled, ok: true, changed: decisive.code === done, code: decisive.code, reply };
  }
  return {
    name,
    enabled,
    ok: false,
    changed: false,
    code: reply.code,
    error: reply.ok ? `no ${enabled ? 'enable' : 'disable'} confirmation in the reply` : replyMessage(reply),
    reply,
  };
}

function configureStatus(code: number, check: boolean): ConfigureStatus {
  if (check) return code === BirdCode.CONFIGURATION_OK ? 'checked' : 'failed';
  switch (code) {
    case BirdCode.RECONFIGURED:
      return 'reconfigured';
    case BirdCode.RECONFIGURATION_IN_PROGRESS:
      return 'in-progress';
    case BirdCode.RECONFIGURATION_QUEUED:
      return 'queued';
    default:
      return 'failed';
  }
}

/**
 * BIRD's control socket reads into a 1 KiB buffer; more pipelined input than that in flight and
 * BIRD resets the connection (seen with ~70 `enable` commands at once). A batch goes out in chunks
 * of at most this many bytes, each sent when the previous one is answered.
 */
export const PIPELINE_CHUNK_BYTES = 512;

/** Splits commands into chunks of at most {@link PIPELINE_CHUNK_BYTES} (one command at least). */
export function pipelineChunks(cmds: readonly string[]): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const cmd of cmds) {
    const size = Buffer.byteLength(cmd) + 1;
    if (chunk.length > 0 && bytes + size > PIPELINE_CHUNK_BYTES) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(cmd);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
