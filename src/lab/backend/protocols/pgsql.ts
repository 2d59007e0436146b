/**
 * Just enough of the PostgreSQL v3 protocol for HAProxy's `option pgsql-check` and a simple client:
 * SSL/GSS requests are declined with `N`, any StartupMessage is trusted (AuthenticationOk), queries
 * get an error, Terminate closes.
 *
 * HAProxy 2.6 (`pgsql-check user <u>`) sends the StartupMessage
 * `<len:4> 00030000 "user" 00 <u> 00 00` and wants the answer to start with the 9 bytes
 * `52 00000008 00000000` (AuthenticationOk); an answer starting with `E` fails the check.
 */
import type { Session } from '../types.ts';
import { readFrames, send } from './framing.ts';

const CODE = { protocol3: 196608, cancel: 80877102, ssl: 80877103, gssenc: 80877104 } as const;
const MAX_STARTUP = 10_000;

/** A typed backend message: type byte, int32 length (itself included), body. */
export function pgMessage(type: string, body: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const cstrings = (...parts: string[]): Buffer => Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');

/** An ErrorResponse with severity, SQLSTATE and message. */
export function pgError(severity: 'ERROR' | 'FATAL', code: string, message: string): Buffer {
  return pgMessage(
    'E',
    Buffer.concat([cstrings(`S${severity}`, `V${severity}`, `C${code}`, `M${message}`), Buffer.from([0])]),
  );
}

const readyForQuery = (): Buffer => pgMessage('Z', Buffer.from('I', 'latin1'));

/** AuthenticationOk, the parameters clients look for, BackendKeyData and ReadyForQuery. */
export function pgLoginOk(): Buffer {
  const parameters: [string, string][] = [
    ['server_version', '16.0 (intentlb-lab)'],
    ['server_encoding', 'UTF8'],
    ['client_encoding', 'UTF8'],
    ['DateStyle', 'ISO, MDY'],
    ['integer_datetimes', 'on'],
    ['standard_conforming_strings', 'on'],
  ];
  const key = Buffer.alloc(8);
  key.writeInt32BE(process.pid, 0);
  key.writeInt32BE(Math.floor(Math.random() * 0x7fffffff), 4);
  return Buffer.concat([
    pgMessage('R', Buffer.from([0, 0, 0, 0])),
    ...parameters.map(([name, value]) => pgMessage('S', cstrings(name, value))),
    pgMessage('K', key),
    readyForQuery(),
  ]);
}

const FAILING = pgError('FATAL', '57P03', 'intentlb-lab: host is failing (mode fail503)');

/** Serves PostgreSQL on one connection. */
export function servePgsql(session: Session): void {
  const { stream } = session;
  let started = false;

  const startup = (buf: Buffer): number => {
    if (buf.length < 8) return 0;
    const length = buf.readInt32BE(0);
    if (length < 8 || length > MAX_STARTUP) {
      stream.destroy();
      return buf.length;
    }
    if (buf.length < length) return 0;
    const code = buf.readInt32BE(4);
    const mode = session.mode();
    if (mode === 'silent') return length;
    if (code === CODE.ssl || code === CODE.gssenc) send(stream, 'N');
    else if (code === CODE.cancel) stream.end();
    else if (mode === 'fail503') {
      send(stream, FAILING);
      stream.end();
    } else if (code >>> 16 !== 3) {
      send(
        stream,
        pgError('FATAL', '0A000', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`),
      );
      stream.end();
    } else {
      started = true;
      send(stream, pgLoginOk());
    }
    return length;
  };

  const message = (buf: Buffer): number => {
    if (buf.length < 5) return 0;
    const length = buf.readInt32BE(1);
    if (length < 4) {
      stream.destroy();
      return buf.length;
    }
    if (buf.length < 1 + length) return 0;
    const type = String.fromCharCode(buf[0]!);
    const mode = session.mode();
    if (mode === 'silent') return 1 + length;
    if (type === 'X') stream.end();
    else if (mode === 'fail503') {
      send(stream, FAILING);
      stream.end();
    } else if (type === 'Q')
      send(
        stream,
        Buffer.concat([pgError('ERROR', '0A000', 'intentlb-lab answers no queries'), readyForQuery()]),
      );
    else if (type === 'S') send(stream, readyForQuery());
    return 1 + length;
  };

  readFrames(stream, (buf) => (started ? message(buf) : startup(buf)));
}
