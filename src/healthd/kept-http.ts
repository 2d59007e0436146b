/**
 * HTTP checks on a kept connection: each VIP's checks reuse one HTTP/1.1 keep-alive connection to
 * the monitor URI, and a fresh one is opened once the connection is `reuseMs` old.
 *
 * Why: a check on a new connection is a TCP handshake, an accept in HAProxy and a reset, and on a
 * node most of healthd's CPU was the kernel doing exactly that, 750 times a second (ADR 0011).
 * One request on a kept connection is two small writes and two reads. What a check proves stays
 * the same: the instance's worker answers the monitor URI on the VIP, and `monitor fail` makes it
 * answer 503 when no server of the VIP is up. The accept path of the monitor frontend is still
 * proven by every fresh connection (by default every 30 s), and the instance's process dying is
 * seen at once by the pid watch, not by the checks.
 *
 * Rules:
 * - a response is framed by its `Content-Length`; one without it, with `Connection: close` or
 *   from HTTP/1.0 ends the connection after it;
 * - the server may close a kept connection whenever it is idle (`timeout http-keep-alive`, a
 *   reload's old worker going away): a close while idle only drops it, and a kept connection that
 *   fails before the first byte of an answer is retried once on a fresh connection within the same
 *   check (the request is an idempotent GET), so neither counts as a failed check;
 * - a check may go out while the previous answer's body is still arriving: the rest of it is
 *   skipped first; a body over 64 KiB ends the connection instead;
 * - a timeout, a malformed answer or bytes nobody asked for end the connection;
 * - a connection is only closed by healthd with a reset, so no TIME_WAIT is left behind.
 */
import { connect, type Socket } from 'node:net';
import { countConnection } from './check-connections.ts';
import type { CheckOutcome } from './checks.ts';
import type { Timers } from './timers.ts';
import type { HttpCheckSpec } from './types.ts';

type Done = (outcome: CheckOutcome) => void;

/** Default for `check.reuse_ms`: how long one connection serves a VIP's checks. */
export const DEFAULT_REUSE_MS = 30_000;

/** A response head longer than this is not HAProxy's monitor answer. */
const MAX_HEAD = 8192;
/** A body longer than this is not worth reading past: the connection ends after its head. */
const MAX_BODY = 65_536;
const STATUS_LINE = /^HTTP\/(\d)(?:\.(\d))? (\d{3})(?: |$)/;
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?:\r\n|$)/i;
const CONNECTION_CLOSE = /\r\nconnection:[ \t]*close[ \t]*(?:\r\n|$)/i;

/** Reads of every kept connection land here; each is parsed before the next read can reuse it. */
const readBuffer = Buffer.alloc(2048);

interface Kept {
  socket: Socket;
  /** When it was opened, on the checking timers' clock. */
  openedAt: number;
  /** Closed, failed or to be closed after the current answer: never reused. */
  dead: boolean;
  /** The check waiting for an answer on it, if any. */
  pending: ((r: Answer) => void) | null;
  /** The head of the answer being read. */
  head: string;
  /** Body bytes of the last answer still to come before the connection is clean. */
  skip: number;
}

type Answer =
  | { kind: 'status'; status: number }
  | {
      kind: 'error';
      error: string;
      /** No byte of an answer had arrived. */
      early: boolean;
    };

/** The kept connection of each check spec (a daemon runs the same spec every interval). */
const kept = new WeakMap<HttpCheckSpec, Kept>();
/**
 * Resets the kept connections of these check specs (a daemon stopping). Kept connections never
 * keep the process alive on their own (they are unref'd): a check in flight has its timer for that.
 */
export function closeKeptConnections(specs: Iterable<HttpCheckSpec>): void {
  for (const spec of specs) {
    const c = kept.get(spec);
    if (c !== undefined) close(spec, c);
  }
}

/** The request a kept-connection check sends (HTTP/1.1 keeps the connection by default). */
export function keptRequest(host: string, path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: intentlb-healthd\r\n\r\n`;
}

/**
 * One check of `spec` on its kept connection (or a fresh one), calling `done` exactly once within
 * `timeoutMs`.
 */
export function startKeptHttp(
  spec: HttpCheckSpec,
  address: string,
  request: string,
  reuseMs: number,
  timeoutMs: number,
  timers: Timers,
  done: Done,
): void {
  const began = timers.now();
  let settled = false;
  let conn: Kept | undefined;
  const settle = (ok: boolean, error?: string): void => {
    if (settled) return;
    settled = true;
    timers.clearTimeout(timer);
    const latencyMs = timers.now() - began;
    done(error === undefined ? { ok, latencyMs } : { ok, latencyMs, error });
  };
  const timer = timers.setTimeout(() => {
    if (conn !== undefined) close(spec, conn);
    settle(false, `timeout after ${timeoutMs} ms`);
  }, timeoutMs);

  const attempt = (retry: boolean): void => {
    let c = kept.get(spec);
    // A connection still receiving the last answer's body is fine to ask on: the rest of that body
    // comes first, then the new answer (read() skips it).
    if (c !== undefined && (c.dead || c.pending !== null || began - c.openedAt >= reuseMs)) {
      close(spec, c);
      c = undefined;
    }
    const reused = c !== undefined;
    if (c === undefined) {
      try {
        c = open(spec, address, request, timers.now());
      } catch (err) {
        settle(false, err instanceof Error ? err.message : String(err));
        return;
      }
    }
    conn = c;
    c.pending = (r) => {
      if (r.kind === 'status') {
        if (r.status >= 200 && r.status < 300) settle(true);
        else settle(false, `HTTP ${r.status}`);
      } else if (reused && r.early && retry && !settled) {
        // The server let the idle connection go as we wrote: ask again on a fresh one.
        attempt(false);
      } else {
        settle(false, r.error);
      }
    };
    // A fresh connection writes its first request when it connects (see `open`).
    if (reused) c.socket.write(request, 'latin1');
  };
  attempt(true);
}

function open(spec: HttpCheckSpec, address: string, request: string, now: number): Kept {
  const c: Kept = {
    socket: undefined as unknown as Socket,
    openedAt: now,
    dead: false,
    pending: null,
    head: '',
    skip: 0,
  };
  countConnection();
  c.socket = connect({
    host: address,
    port: spec.port,
    onread: { buffer: readBuffer, callback: (n) => read(spec, c, n) },
  });
  c.socket.unref();
  kept.set(spec, c);
  c.socket.write(request, 'latin1');
  c.socket.on('error', (err) => fail(spec, c, err.message));
  c.socket.on('close', () => fail(spec, c, 'connection closed before an answer'));
  return c;
}

/** The connection failed or closed: the waiting check (if any) hears it, nobody reuses it. */
function fail(spec: HttpCheckSpec, c: Kept, error: string): void {
  const early = c.head === '';
  c.dead = true;
  if (kept.get(spec) === c) kept.delete(spec);
  const p = c.pending;
  c.pending = null;
  p?.({ kind: 'error', error, early });
}

/** Ends a connection with a reset (or a plain close before it connected) and forgets it. */
function close(spec: HttpCheckSpec, c: Kept): void {
  c.dead = true;
  c.pending = null;
  if (kept.get(spec) === c) kept.delete(spec);
  if (!c.socket.destroyed && !c.socket.connecting) c.socket.resetAndDestroy();
  else c.socket.destroy();
}

/** `onread`: parses answers as they come; returns true to keep reading. */
function read(spec: HttpCheckSpec, c: Kept, n: number): boolean {
  let from = 0;
  if (c.skip > 0) {
    const take = Math.min(c.skip, n);
    c.skip -= take;
    from = take;
    if (from === n) return true;
  }
  if (c.pending === null) {
    // Bytes nobody asked for: the connection is out of step.
    close(spec, c);
    return true;
  }
  c.head += readBuffer.toString('latin1', from, n);
  const end = c.head.indexOf('\r\n\r\n');
  if (end < 0) {
    if (c.head.length > MAX_HEAD)
      answer(spec, c, { kind: 'error', error: 'no end of the HTTP head', early: false }, true);
    return true;
  }
  const head = c.head.slice(0, end);
  const bodyHere = c.head.length - end - 4;
  c.head = '';
  const firstLine = head.slice(0, head.indexOf('\r\n') < 0 ? head.length : head.indexOf('\r\n'));
  const m = STATUS_LINE.exec(firstLine);
  if (m === null) {
    answer(
      spec,
      c,
      { kind: 'error', error: `not an HTTP status line: ${firstLine.slice(0, 80)}`, early: false },
      true,
    );
    return true;
  }
  const length = CONTENT_LENGTH.exec(head)?.[1];
  const http10 = m[1] === '1' && (m[2] ?? '0') === '0';
  const closeAfter =
    length === undefined ||
    http10 ||
    CONNECTION_CLOSE.test(head) ||
    bodyHere > Number(length) ||
    Number(length) > MAX_BODY;
  c.skip = closeAfter ? 0 : Number(length) - bodyHere;
  answer(spec, c, { kind: 'status', status: Number(m[3]) }, closeAfter);
  return true;
}

function answer(spec: HttpCheckSpec, c: Kept, r: Answer, closeAfter: boolean): void {
  const p = c.pending;
  c.pending = null;
  if (closeAfter) close(spec, c);
  p?.(r);
}
