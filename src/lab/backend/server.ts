/**
 * The lab's backend server: one instance per backend host, serving all of that host's ports, with a
 * host-wide mode that tests flip to make the host fail. Usable in-process (tests) and from `main.ts`.
 */
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { type PortContext, serveConnection } from './connection.ts';
import { createProtocolHandlers, SERVER_FIRST } from './protocols/index.ts';
import { generateSelfSigned, secureContextOf, type TlsMaterial } from './tls.ts';
import type { ListenSpec, Mode } from './types.ts';

/** What to serve. */
export interface BackendOptions {
  /** The name the backend answers as (HTTP `host`, SMTP greeting, ...). */
  host: string;
  /** The ports to serve; port 0 picks an ephemeral port (see {@link BackendHandle.listeners}). */
  listen: readonly ListenSpec[];
  /** Certificate for `:tls` ports; without it, a self-signed one is made with `openssl`. */
  tls?: TlsMaterial;
  /** How long server-first ports (smtp, mysql, tcp) wait for a PROXY header; default 50 ms. */
  proxyWaitMs?: number;
  /** The mode to start in; default `ok`. */
  mode?: Mode;
}

/** A snapshot for the control socket's `status`. */
export interface BackendStatus {
  host: string;
  mode: Mode;
  listeners: ListenSpec[];
  /** Open client connections. */
  connections: number;
}

/** A running backend. */
export interface BackendHandle {
  readonly host: string;
  /** The served ports, with the actual port numbers. */
  readonly listeners: readonly ListenSpec[];
  /** The current mode. */
  readonly mode: Mode;
  /** Switches every port to `mode`; resolves once listening sockets are closed or re-opened. */
  setMode(mode: Mode): Promise<void>;
  status(): BackendStatus;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

const DEFAULT_PROXY_WAIT_MS = 50;

/** Starts listening on every port of `opts.listen`; rejects (having closed what it opened) on failure. */
export async function startBackend(opts: BackendOptions): Promise<BackendHandle> {
  const needsTls = opts.listen.some((l) => l.tls);
  const material = needsTls
    ? (opts.tls ??
      (await generateSelfSigned(
        opts.host,
        opts.listen.map((l) => l.address),
      )))
    : null;
  const backend = new Backend(opts, material);
  await backend.start();
  return backend;
}

class Backend implements BackendHandle {
  readonly host: string;
  #mode: Mode;
  #listeners: ListenSpec[];
  readonly #ports: PortContext[];
  #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  /** Mode changes and close run one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: BackendOptions, material: TlsMaterial | null) {
    this.host = opts.host;
    this.#mode = opts.mode ?? 'ok';
    this.#listeners = opts.listen.map((l) => ({ ...l }));
    const handlers = createProtocolHandlers();
    const secureContext = material === null ? null : secureContextOf(material);
    this.#ports = this.#listeners.map((l) => ({
      host: opts.host,
      port: l.port,
      handler: handlers[l.protocol],
      serverFirst: SERVER_FIRST.has(l.protocol),
      proxyWaitMs: opts.proxyWaitMs ?? DEFAULT_PROXY_WAIT_MS,
      secureContext: l.tls ? secureContext : null,
      mode: () => this.#mode,
    }));
  }

  get mode(): Mode {
    return this.#mode;
  }

  get listeners(): readonly ListenSpec[] {
    return this.#listeners;
  }

  async start(): Promise<void> {
    if (this.#mode !== 'refuse') await this.#open();
  }

  setMode(mode: Mode): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#closed) throw new Error('the backend is closed');
      this.#mode = mode;
      if (mode === 'refuse') await this.#shut();
      else if (this.#servers.length === 0) await this.#open();
    });
  }

  status(): BackendStatus {
    return {
      host: this.host,
      mode: this.#mode,
      listeners: this.#listeners.map((l) => ({ ...l })),
      connections: this.#sockets.size,
    };
  }

  close(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#closed) return;
      this.#closed = true;
      await this.#shut();
    });
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Listens on every port (the same port numbers as the first time). */
  async #open(): Promise<void> {
    try {
      for (const [i, spec] of this.#listeners.entries()) {
        const server = await this.#listen(spec, this.#ports[i]!);
        this.#servers.push(server);
        const address = server.address();
        if (address !== null && typeof address === 'object') {
          spec.port = address.port;
          this.#ports[i]!.port = address.port;
        }
      }
    } catch (err) {
      await this.#shut();
      throw err;
    }
  }

  #listen(spec: ListenSpec, port: PortContext): Promise<Server> {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      void serveConnection(socket, port);
    });
    return new Promise<Server>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: spec.address, port: spec.port, ipv6Only: isIPv6(spec.address) }, () => {
        server.off('error', reject);
        server.on('error', () => {});
        resolve(server);
      });
    });
  }

  /** Stops listening and drops every open connection. */
  async #shut(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(closed);
  }
}
