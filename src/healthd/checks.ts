/**
 * In-process health checks: no fork, no HTTP client. An HTTP check writes one request on a raw
 * TCP socket and reads only the status line, which is what lets one core run thousands of checks
 * per second (node:http would parse headers, manage an agent and allocate far more per check).
 *
 * A check never throws and never outlives its timeout: every outcome, error or not, resolves to
 * `{ ok, latencyMs, error? }` and the socket is always destroyed. Once the answer is known the
 * connection is closed with a reset (SO_LINGER 0), as HAProxy's own checks do, so thousands of
 * checks per second leave no TIME_WAIT sockets behind to exhaust ephemeral ports.
 *
 * A daemon's HTTP checks (`check.reuse_ms`, 30 s by default) run on a kept keep-alive connection
 * instead, which is far cheaper still: kept-http.ts.
 */

import { connect, isIPv6, type Socket } from 'node:net';
import { countConnection } from './check-connections.ts';
import { keptRequest, startKeptHttp } from './kept-http.ts';
import { systemTimers, type Timers } from './timers.ts';
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
  /** The clock of the timeout and the latency (default: Node's). */
  readonly timers?: Timers;
}

export interface TcpCheckOptions {
  readonly address: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** The clock of the timeout and the latency (default: Node's). */
  readonly timers?: Timers;
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
  return new Promise((resolve) =>
    startHttp(
      opts.address,
      opts.port,
      httpRequest(opts),
      opts.timeoutMs,
      opts.timers ?? systemTimers,
      resolve,
    ),
  );
}

/** The request an HTTP check sends (built once per check spec by the daemon). */
export function httpRequest(opts: { address: string; port: number; path: string; host?: string }): string {
  const host = opts.host ?? hostHeader(unbracket(opts.address), opts.port);
  return (
    `GET ${opts.path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
    'User-Agent: intentlb-healthd\r\n\r\n'
  );
}

function startHttp(
  address: string,
  port: number,
  request: string,
  timeoutMs: number,
  timers: Timers,
  done: Done,
): void {
  let head = '';
  const reader =
    (finish: Finish): OnRead =>
    (nread) => {
      // The usual answer: the whole status line in the first chunk, read from the bytes.
      const fast = head === '' ? statusFromBytes(readBuffer, nread) : 0;
      if (fast > 0) {
        answer(finish, String(fast));
        return true;
      }
      head += readBuffer.toString('latin1', 0, nread); // `buf` is readBuffer
      const eol = head.indexOf('\n');
      if (eol < 0) {
        if (head.length > MAX_STATUS_LINE) finish(false, 'no HTTP status line', true);
        return true;
      }
      const line = head.slice(0, eol).replace(/\r$/, '');
      const status = STATUS_LINE.exec(line)?.[1];
      if (status === undefined) finish(false, `not an HTTP status line: ${line.slice(0, 80)}`, true);
      else answer(finish, status);
      return true;
    };
  probe(
    unbracket(address),
    port,
    timeoutMs,
    timers,
    reader,
    (socket) => {
      socket.write(request, 'latin1');
    },
    done,
  );
}

/** A three-digit status: ok iff 2xx. */
function answer(finish: Finish, status: string): void {
  if (status[0] === '2') finish(true, undefined, true);
  else finish(false, `HTTP ${status}`, true);
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

/**
 * The status of `HTTP/d[.d] ddd` followed by a space or the line's end, read from the bytes; 0 when
 * the first line is not complete in them or is not such a line (the string path then decides).
 */
export function statusFromBytes(buf: Uint8Array, n: number): number {
  // "HTTP/"
  if (n < 11 || buf[0] !== 0x48 || buf[1] !== 0x54 || buf[2] !== 0x54 || buf[3] !== 0x50 || buf[4] !== 0x2f)
    return 0;
  if (!isDigit(buf[5])) return 0;
  let i = 6;
  if (buf[i] === 0x2e) {
    if (!isDigit(buf[i + 1])) return 0;
    i += 2;
  }
  if (i + 4 >= n) return 0; // every byte read below is one of the n received
  if (buf[i] !== 0x20 || !isDigit(buf[i + 1]) || !isDigit(buf[i + 2]) || !isDigit(buf[i + 3])) return 0;
  const after = buf[i + 4];
  if (after === 0x0d) {
    if (i + 5 >= n || buf[i + 5] !== 0x0a) return 0; // "\r\n" ends the line; any other "\r" is not a status line
  } else if (after === 0x20) {
    let j = i + 5;
    while (j < n && buf[j] !== 0x0a) j++;
    if (j === n) return 0; // line not complete
  } else if (after !== 0x0a) {
    return 0;
  }
  return (buf[i + 1]! - 0x30) * 100 + (buf[i + 2]! - 0x30) * 10 + (buf[i + 3]! - 0x30);
}

/** Connect; ok iff the handshake completes. */
export function tcpCheck(opts: TcpCheckOptions): Promise<CheckOutcome> {
  return new Promise((resolve) =>
    startTcp(opts.address, opts.port, opts.timeoutMs, opts.timers ?? systemTimers, resolve),
  );
}

function startTcp(address: string, port: number, timeoutMs: number, timers: Timers, done: Done): void {
  probe(
    unbracket(address),
    port,
    timeoutMs,
    timers,
    undefined,
    (socket, finish) => {
      socket.on('connect', () => finish(true, undefined, true));
    },
    done,
  );
}

/** How each check kind runs; shared code looks a kind up here instead of branching on it. */
export interface CheckKind<S extends CheckSpec> {
  /** Runs one check and calls `done` exactly once with its outcome, timed on `timers`. */
  start(spec: S, timeoutMs: number, timers: Timers, done: Done): void;
}

/** Each HTTP check spec's request, built once (a daemon runs the same spec every interval). */
const requests = new WeakMap<HttpCheckSpec, string>();

export const CHECK_KINDS: { readonly [K in CheckSpec['kind']]: CheckKind<Extract<CheckSpec, { kind: K }>> } =
  {
    http: {
      start: (spec: HttpCheckSpec, timeoutMs, timers, done) => {
        const reuse = (spec.reuseMs ?? 0) > 0;
        const address = unbracket(spec.address);
        let request = requests.get(spec);
        if (request === undefined) {
          request = reuse
            ? keptRequest(spec.host ?? hostHeader(address, spec.port), spec.path)
            : httpRequest(spec);
          requests.set(spec, request);
        }
        if (reuse) startKeptHttp(spec, address, request, spec.reuseMs!, timeoutMs, timers, done);
        else startHttp(spec.address, spec.port, request, timeoutMs, timers, done);
      },
    },
    tcp: {
      start: (spec: TcpCheckSpec, timeoutMs, timers, done) =>
        startTcp(spec.address, spec.port, timeoutMs, timers, done),
    },
  };

/** Run the check a spec describes, calling `done` once with the outcome (no promise per check). */
export function startCheck(
  spec: CheckSpec,
  timeoutMs: number,
  done: Done,
  timers: Timers = systemTimers,
): void {
  const kind = CHECK_KINDS[spec.kind] as CheckKind<CheckSpec> | undefined;
  if (kind === undefined) done({ ok: false, latencyMs: 0, error: 'unknown check kind' });
  else kind.start(spec, timeoutMs, timers, done);
}

/** Run the check a spec describes. */
export function runCheck(
  spec: CheckSpec,
  timeoutMs: number,
  timers: Timers = systemTimers,
): Promise<CheckOutcome> {
  return new Promise((resolve) => startCheck(spec, timeoutMs, resolve, timers));
}

type Done = (outcome: CheckOutcome) => void;
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
  timers: Timers,
  reader: ((finish: Finish) => OnRead) | undefined,
  start: (socket: Socket, finish: Finish) => void,
  done: Done,
): void {
  const began = timers.now();
  let socket: Socket | undefined;
  let settled = false;
  let timer: unknown;
  const finish: Finish = (ok, error, reset = false) => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) timers.clearTimeout(timer);
    // A reset needs a connected TCP handle; anything else (refused, timed out) is just closed.
    if (reset && socket !== undefined && !socket.destroyed && !socket.connecting) socket.resetAndDestroy();
    else socket?.destroy();
    const latencyMs = timers.now() - began;
    done(error === undefined ? { ok, latencyMs } : { ok, latencyMs, error });
  };
  countConnection();
  try {
    socket =
      reader === undefined
        ? connect({ host: address, port })
        : connect({ host: address, port, onread: { buffer: readBuffer, callback: reader(finish) } });
  } catch (err) {
    finish(false, errorText(err));
    return;
  }
  timer = timers.setTimeout(() => finish(false, `timeout after ${timeoutMs} ms`), timeoutMs);
  // After settling, late errors (e.g. from the reset) land here and are ignored.
  socket.on('error', (err) => finish(false, errorText(err)));
  socket.on('close', () => finish(false, 'connection closed before an answer'));
  start(socket, finish);
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
