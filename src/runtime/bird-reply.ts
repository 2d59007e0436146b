/**
 * BIRD 2 control socket replies: framing, codes, and parsers for the replies intentlb reads.
 *
 * Each reply line is `DDDD-text` (more lines follow), `DDDD text` (the last line of the reply),
 * ` text` (continuation of the previous line's code), or `+text` (spontaneous output, e.g. `echo`).
 * Code classes (doc/reply_codes of BIRD): 0xxx action successfully completed, 1xxx table entry,
 * 2xxx table heading, 8xxx run-time error, 9xxx parse-time error.
 */

import { IntentlbError } from '../errors.ts';

/** Reply codes of BIRD 2.0 (doc/reply_codes). */
export const BirdCode = {
  OK: 0,
  WELCOME: 1,
  READING_CONFIGURATION: 2,
  RECONFIGURED: 3,
  RECONFIGURATION_IN_PROGRESS: 4,
  RECONFIGURATION_QUEUED: 5,
  RECONFIGURATION_IGNORED_SHUTTING_DOWN: 6,
  SHUTDOWN_ORDERED: 7,
  ALREADY_DISABLED: 8,
  DISABLED: 9,
  ALREADY_ENABLED: 10,
  ENABLED: 11,
  RESTARTED: 12,
  STATUS_REPORT: 13,
  ROUTE_COUNT: 14,
  RELOADING: 15,
  ACCESS_RESTRICTED: 16,
  RECONFIGURATION_UNQUEUED: 17,
  RECONFIGURATION_CONFIRMED: 18,
  NOTHING_TO_DO: 19,
  CONFIGURATION_OK: 20,
  UNDO_REQUESTED: 21,
  UNDO_SCHEDULED: 22,
  EVALUATION: 23,
  GRACEFUL_RESTART_STATUS: 24,
  GRACEFUL_RESTART_ORDERED: 25,
  BIRD_VERSION: 1000,
  INTERFACE_LIST: 1001,
  PROTOCOL_LIST: 1002,
  PROTOCOL_DETAILS: 1006,
  ROUTE_LIST: 1007,
  ROUTE_DETAILS: 1008,
  STATIC_ROUTE_LIST: 1009,
  SYMBOL_LIST: 1010,
  UPTIME: 1011,
  ROUTE_EXTENDED_ATTRIBUTES: 1012,
  PROTOCOL_HEADING: 2002,
  REPLY_TOO_LONG: 8000,
  ROUTE_NOT_FOUND: 8001,
  CONFIGURATION_FILE_ERROR: 8002,
  NO_PROTOCOLS_MATCH: 8003,
  STOPPED_DUE_TO_RECONFIGURATION: 8004,
  PROTOCOL_DOWN: 8005,
  RELOAD_FAILED: 8006,
  ACCESS_DENIED: 8007,
  EVALUATION_RUNTIME_ERROR: 8008,
  COMMAND_TOO_LONG: 9000,
  PARSE_ERROR: 9001,
  INVALID_SYMBOL_TYPE: 9002,
} as const;

export type BirdCodeClass =
  | 'success'
  | 'table-entry'
  | 'table-heading'
  | 'runtime-error'
  | 'parse-error'
  | 'unknown';

export function birdCodeClass(code: number): BirdCodeClass {
  if (code >= 0 && code < 1000) return 'success';
  if (code >= 1000 && code < 2000) return 'table-entry';
  if (code >= 2000 && code < 3000) return 'table-heading';
  if (code >= 8000 && code < 9000) return 'runtime-error';
  if (code >= 9000 && code < 10000) return 'parse-error';
  return 'unknown';
}

export interface BirdLine {
  readonly code: number;
  readonly text: string;
}

export interface BirdReply {
  /** Code of the last line: the outcome of the command. */
  readonly code: number;
  /** The final code is in the 0xxx class (action successfully completed). */
  readonly ok: boolean;
  /** Every line, continuations with the code they continue. */
  readonly lines: readonly BirdLine[];
}

/** The last line's text: BIRD's message for the outcome (an error message when not ok). */
export function replyMessage(reply: BirdReply): string {
  return reply.lines[reply.lines.length - 1]?.text ?? '';
}

/** Bytes on the control socket that do not follow the reply format. */
export class BirdProtocolError extends IntentlbError {
  constructor(message: string) {
    super(`bird: protocol error: ${message}`);
    this.name = 'BirdProtocolError';
  }
}

const CODED_LINE = /^(\d{4})([ -])(.*)$/;

/**
 * Incremental reply framer: feed it the socket's data in whatever chunks arrive, get whole replies.
 * Throws {@link BirdProtocolError} on a malformed line; the stream cannot be trusted after that.
 */
export class BirdReplyReader {
  #partial = '';
  #lines: BirdLine[] = [];
  readonly #decoder = new TextDecoder('utf-8');
  readonly #onSpontaneous: ((text: string) => void) | undefined;

  constructor(onSpontaneous?: (text: string) => void) {
    this.#onSpontaneous = onSpontaneous;
  }

  /** A reply has started but its last line has not arrived. */
  get midReply(): boolean {
    return this.#lines.length > 0 || this.#partial !== '';
  }

  push(chunk: Uint8Array | string): BirdReply[] {
    this.#partial += typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    const replies: BirdReply[] = [];
    for (;;) {
      const nl = this.#partial.indexOf('\n');
      if (nl < 0) break;
      let line = this.#partial.slice(0, nl);
      this.#partial = this.#partial.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const reply = this.#line(line);
      if (reply !== undefined) replies.push(reply);
    }
    return replies;
  }

  #line(line: string): BirdReply | undefined {
    const m = CODED_LINE.exec(line);
    if (m !== null) {
      const code = Number(m[1]);
      this.#lines.push({ code, text: m[3] ?? '' });
      if (m[2] === '-') return undefined;
      const lines = this.#lines;
      this.#lines = [];
      return { code, ok: birdCodeClass(code) === 'success', lines };
    }
    if (line.startsWith(' ')) {
      const previous = this.#lines[this.#lines.length - 1];
      if (previous === undefined) throw new BirdProtocolError(`continuation line outside a reply: '${line}'`);
      this.#lines.push({ code: previous.code, text: line.slice(1) });
      return undefined;
    }
    if (line.startsWith('+')) {
      this.#onSpontaneous?.(line.slice(1));
      return undefined;
    }
    throw new BirdProtocolError(`malformed line '${line}'`);
  }
}

/** Parses a whole transcript (e.g. a recorded fixture) into replies; throws if it ends mid-reply. */
export function parseBirdTranscript(text: string): BirdReply[] {
  const reader = new BirdReplyReader();
  const replies = reader.push(text);
  if (reader.midReply) throw new BirdProtocolError('transcript ends in the middle of a reply');
  return replies;
}

/** `proto_state_name()` of BIRD 2: `flush` is down with routes still being flushed. */
export type BirdProtocolState = 'up' | 'down' | 'start' | 'stop' | 'flush';

export interface BirdProtocol {
  readonly name: string;
  /** `Static`, `Device`, `BGP`, `Kernel`, ... */
  readonly proto: string;
  /** Main channel's table, `---` when none. */
  readonly table: string;
  /** As BIRD prints it; one of {@link BirdProtocolState} for BIRD 2.0. */
  readonly state: BirdProtocolState | (string & {});
  /** Time of the last state change, in the `timeformat protocol` format. */
  readonly since: string;
  /** Protocol-specific info, e.g. a BGP session state; empty for static protocols. */
  readonly info: string;
  /** Detail lines (code 1006) of `show protocols all`. */
  readonly details: readonly string[];
}

const PROTOCOL_LINE = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$/;

/** The protocol list of a `show protocols [all]` reply (lines 1002, details 1006). */
export function parseProtocols(reply: BirdReply): BirdProtocol[] {
  const out: { -readonly [K in keyof BirdProtocol]: BirdProtocol[K] }[] = [];
  for (const line of reply.lines) {
    if (line.code === BirdCode.PROTOCOL_LIST) {
      const m = PROTOCOL_LINE.exec(line.text.trimEnd());
      if (m === null) {
        const four = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$/.exec(line.text.trim());
        if (four === null) throw new BirdProtocolError(`malformed protocol line '${line.text}'`);
        out.push({
          name: four[1]!,
          proto: four[2]!,
          table: four[3]!,
          state: four[4]!,
          since: '',
          info: '',
          details: [],
        });
        continue;
      }
      // `since` is one token with the default time formats; `iso long` adds a time of day.
      const rest = m[5]!.split(/(\s+)/);
      let since = rest[0] ?? '';
      let infoFrom = 1;
      if (rest.length > 2 && /^\d{2}:\d{2}/.test(rest[2] ?? '') && /^\d{4}-\d{2}-\d{2}$/.test(since)) {
        since = `${since} ${rest[2]}`;
        infoFrom = 3;
      }
      out.push({
        name: m[1]!,
        proto: m[2]!,
        table: m[3]!,
        state: m[4]!,
        since,
        info: rest.slice(infoFrom).join('').trim(),
        details: [],
      });
    } else if (line.code === BirdCode.PROTOCOL_DETAILS) {
      const last = out[out.length - 1];
      if (last !== undefined && line.text.trim() !== '') last.details = [...last.details, line.text];
    }
  }
  return out;
}

export interface BirdRoute {
  readonly table: string;
  readonly prefix: string;
  /** `unicast`, `blackhole`, `unreachable`, `prohibit`, ... */
  readonly type: string;
  readonly protocol: string;
  /** The rest of the bracket: time, and `from <addr>` for BGP. */
  readonly source: string;
  /** Selected as best (`*`). */
  readonly primary: boolean;
  readonly preference: number;
  /** Following lines: next hops (`via ...`) and attributes of `show route all` (1008, 1012). */
  readonly details: readonly string[];
}

const ROUTE_LINE = /^(\S+)?\s+(\S+)\s+\[(\S+)(?:\s+([^\]]*))?\](\s+\*)?\s+\((\d+)(?:\/[^)]*)?\)/;

/** Routes of a `show route` reply (1007 lines, details 1008/1012). Minimal: no attribute decoding. */
export function parseRoutes(reply: BirdReply): BirdRoute[] {
  const out: { -readonly [K in keyof BirdRoute]: BirdRoute[K] }[] = [];
  let table = '';
  let prefix = '';
  for (const line of reply.lines) {
    if (line.code === BirdCode.ROUTE_LIST) {
      const t = /^Table (\S+):$/.exec(line.text);
      if (t !== null) {
        table = t[1]!;
        continue;
      }
      if (line.text.trim() === '') continue;
      const m = ROUTE_LINE.exec(line.text);
      if (m === null) {
        const last = out[out.length - 1];
        if (last === undefined) throw new BirdProtocolError(`malformed route line '${line.text}'`);
        last.details = [...last.details, line.text.trim()];
        continue;
      }
      if (m[1] !== undefined) prefix = m[1];
      out.push({
        table,
        prefix,
        type: m[2]!,
        protocol: m[3]!,
        source: (m[4] ?? '').trim(),
        primary: m[5] !== undefined,
        preference: Number(m[6]),
        details: [],
      });
    } else if (line.code === BirdCode.ROUTE_DETAILS || line.code === BirdCode.ROUTE_EXTENDED_ATTRIBUTES) {
      const last = out[out.length - 1];
      if (last !== undefined && line.text.trim() !== '') last.details = [...last.details, line.text.trim()];
    }
  }
  return out;
}
