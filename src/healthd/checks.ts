/**
 * In-process health checks: no fork, no HTTP client. An HTTP check writes one request on a raw
 * TCP socket and reads only the status line, which is what lets one core run thousands of checks
 * per second (node:http would parse headers, manage an agent and allocate far more per check).
 *
 * A check never throws and never outlives its timeout: every outcome, error or not, resolves to
 * `{ ok, latencyMs, error? }` and the socket is always destroyed. Once the answer is known the
 * connection is closed with a reset (SO_LINGER 0), as HAProxy's own checks do, so thousands of
 * checks per second leave no TIME_WAIT sockets behind to exhaust ephemeral ports.
 */

import { connect, isIPv6, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { CheckSpec, HttpCheckSpec, TcpCheckSpec } from './types.ts';

export interface CheckOutcome {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error?: string;
}

export interface HttpCheckOptions {
  readonly address: string;
  readonly port: number;
  readonly path: string;
  /** Host header; defaults to `address:port` (IPv6 in brackets). */
  readonly host?: string;
  readonly timeoutMs: number;
}

export interface TcpCheckOptions {
  readonly address: string;
  readonly port: number;
  readonly timeoutMs: number;
}

/** A status line longer than this without a line end is not HTTP. */
const MAX_STATUS_LINE = 1024;
const STATUS_LINE = /^HTTP\/\d(?:\.\d)? (\d{3})(?: |$)/;

/**
 * Every HTTP check reads into this one buffer (node's `onread`): the status line is parsed inside
 * the read callback, before the next read can reuse it, so no buffer is allocated per chunk.
 */
const readBuffer = Buffer.alloc(2048);

/** GET `path`; ok iff the status is 2xx. */
export function httpCheck(opts: HttpCheckOptions): Promise<CheckOutcome> {
  const address = unbracket(opts.address);
  const host = opts.host ?? hostHeader(address, opts.port);
  const request =
    `GET ${opts.path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
    'User-Agent: intentlb-healthd\r\n\r\n';
  let head = '';
  const reader =
    (finish: Finish): OnRead =>
    (nread) => {
      head += readBuffer.toString('latin1', 0, nread); // `buf` is readBuffer
      const eol = head.indexOf('\n');
      if (eol < 0) {
        if (head.length > MAX_STATUS_LINE) finish(false, 'no HTTP status line', true);
        return true;
      }
      const line = head.slice(0, eol).replace(/\r$/, '');
      const status = STATUS_LINE.exec(line)?.[1];
      if (status === undefined) finish(false, `not an HTTP status line: ${line.slice(0, 80)}`, true);
      else if (status[0] === '2') finish(true, undefined, true);
      else finish(false, `HTTP ${status}`, true);
      return true;
    };
  return probe(address, opts.port, opts.timeoutMs, reader, (socket) => {
    socket.write(request, 'latin1');
  });
}

/** Connect; ok iff the handshake completes. */
export function tcpCheck(opts: TcpCheckOptions): Promise<CheckOutcome> {
  return probe(unbracket(opts.address), opts.port, opts.timeoutMs, undefined, (socket, finish) => {
    socket.on('connect', () => finish(true, undefined, true));
  });
}

/** How each check kind runs; shared code looks a kind up here instead of branching on it. */
export interface CheckKind<S extends CheckSpec> {
  run(spec: S, timeoutMs: number): Promise<CheckOutcome>;
}

export const CHECK_KINDS: { readonly [K in CheckSpec['kind']]: CheckKind<Extract<CheckSpec, { kind: K }>> } =
  {
    http: {
      run: (spec: HttpCheckSpec, timeoutMs) =>
        httpCheck(
          spec.host === undefined
            ? { address: spec.address, port: spec.port, path: spec.path, timeoutMs }
            : { address: spec.address, port: spec.port, path: spec.path, host: spec.host, timeoutMs },
        ),
    },
    tcp: {
      run: (spec: TcpCheckSpec, timeoutMs) => tcpCheck({ address: spec.address, port: spec.port, timeoutMs }),
    },
  };

/** Run the check a spec describes. */
export function runCheck(spec: CheckSpec, timeoutMs: number): Promise<CheckOutcome> {
  const kind = CHECK_KINDS[spec.kind] as CheckKind<CheckSpec> | undefined;
  if (kind === undefined) return Promise.resolve({ ok: false, latencyMs: 0, error: 'unknown check kind' });
  return kind.run(spec, timeoutMs);
}

type Finish = (ok: boolean, error?: string, reset?: boolean) => void;
type OnRead = (nread: number, buf: Uint8Array) => boolean;

/**
 * Connect, let `start` (and `reader`, for the answer) drive the conversation, and settle exactly
 * once: on the answer, an error, the peer closing, or the hard deadline.
 */
function probe(
  address: string,
  port: number,
  timeoutMs: number,
  reader: ((finish: Finish) => OnRead) | undefined,
  start: (socket: Socket, finish: Finish) => void,
): Promise<CheckOutcome> {
  return new Promise((resolve) => {
    const began = performance.now();
    let socket: Socket | undefined;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish: Finish = (ok, error, reset = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A reset needs a connected TCP handle; anything else (refused, timed out) is just closed.
      if (reset && socket !== undefined && !socket.destroyed && !socket.connecting) socket.resetAndDestroy();
      else socket?.destroy();
      const latencyMs = performance.now() - began;
      resolve(error === undefined ? { ok, latencyMs } : { ok, latencyMs, error });
    };
    try {
      socket =
        reader === undefined
          ? connect({ host: address, port })
          : connect({ host: address, port, onread: { buffer: readBuffer, callback: reader(finish) } });
    } catch (err) {
      finish(false, errorText(err));
      return;
    }
    timer = setTimeout(() => finish(false, `timeout after ${timeoutMs} ms`), timeoutMs);
    // After settling, late errors (e.g. from the reset) land here and are ignored.
    socket.on('error', (err) => finish(false, errorText(err)));
    socket.on('close', () => finish(false, 'connection closed before an answer'));
    start(socket, finish);
  });
}

function unbracket(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

function hostHeader(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
