/**
 * Just enough Redis (RESP2) for HAProxy's `option redis-check` (sends `*1\r\n$4\r\nPING\r\n`, expects
 * `+PONG`) and a simple client: PING, ECHO, QUIT, inline or array commands.
 */
import type { Session } from '../types.ts';
import { readFrames, send } from './framing.ts';

/** A command and the bytes it took, a protocol error, or null while the command is incomplete. */
type Parsed = { args: string[]; consumed: number } | { error: string } | null;

/** Parses one RESP array of bulk strings or one inline command at the start of `buf`. */
export function parseRedisCommand(buf: Buffer): Parsed {
  const lineEnd = (from: number): number => buf.indexOf('\r\n', from, 'latin1');
  if (buf[0] !== 0x2a /* '*' */) {
    const lf = buf.indexOf(0x0a);
    if (lf < 0) return buf.length > 65536 ? { error: 'inline command too long' } : null;
    const line = buf.subarray(0, lf).toString('utf8').replace(/\r$/, '');
    return { args: line.split(/\s+/).filter((s) => s.length > 0), consumed: lf + 1 };
  }
  let at = lineEnd(0);
  if (at < 0) return null;
  const count = Number(buf.subarray(1, at).toString('latin1'));
  if (!Number.isInteger(count) || count < 0 || count > 1024) return { error: 'invalid multibulk length' };
  at += 2;
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at >= buf.length) return null;
    if (buf[at] !== 0x24 /* '$' */) return { error: "expected '$'" };
    const end = lineEnd(at);
    if (end < 0) return null;
    const length = Number(buf.subarray(at + 1, end).toString('latin1'));
    if (!Number.isInteger(length) || length < 0 || length > 512 * 1024)
      return { error: 'invalid bulk length' };
    const start = end + 2;
    if (buf.length < start + length + 2) return null;
    args.push(buf.subarray(start, start + length).toString('utf8'));
    at = start + length + 2;
  }
  return { args, consumed: at };
}

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}

/** Serves Redis on one connection. */
export function serveRedis(session: Session): void {
  const { stream } = session;
  readFrames(stream, (buf) => {
    const parsed = parseRedisCommand(buf);
    if (parsed === null) return 0;
    if ('error' in parsed) {
      send(stream, `-ERR Protocol error: ${parsed.error}\r\n`);
      stream.end();
      return buf.length;
    }
    const [name = '', ...rest] = parsed.args;
    const command = name.toUpperCase();
    const mode = session.mode();
    if (name === '' || mode === 'silent') return parsed.consumed;
    if (command === 'QUIT') {
      send(stream, '+OK\r\n');
      stream.end();
    } else if (mode === 'fail503') {
      // Closing too makes HAProxy's check fail at once instead of waiting for '+PONG' until timeout.
      send(stream, '-ERR intentlb-lab: host is failing (mode fail503)\r\n');
      stream.end();
    } else if (command === 'PING') {
      send(stream, rest[0] === undefined ? '+PONG\r\n' : bulk(rest[0]));
    } else if (command === 'ECHO' && rest.length === 1) {
      send(stream, bulk(rest[0] ?? ''));
    } else {
      send(stream, `-ERR unknown command '${name.replace(/[\r\n]/g, ' ')}'\r\n`);
    }
    return parsed.consumed;
  });
}
