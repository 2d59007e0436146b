/**
 * Just enough of the MySQL client/server protocol for HAProxy's `option mysql-check` and a simple
 * client: a protocol-10 handshake, any credentials accepted with an OK packet, COM_PING, COM_QUIT.
 *
 * HAProxy 2.6 (`mysql-check user <u> post-41`) does not wait for the handshake: right after connect it
 * sends the handshake response `<len:3> 01 | 00820000 00800001 21 <23 x 00> <user> 00 00` and COM_QUIT
 * `01 00 00 00 01` in one segment. It then wants a first packet (the handshake) and a second packet
 * (the OK) whose first payload byte is not 0xff (an error packet fails the check).
 */
import { randomBytes } from 'node:crypto';
import type { Session } from '../types.ts';
import { readFrames, send } from './framing.ts';

const SERVER_VERSION = '8.0.36-intentlb-lab';
const CHARSET_UTF8 = 0x21;
const STATUS_AUTOCOMMIT = 0x0002;
/** LONG_PASSWORD, FOUND_ROWS, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION, PLUGIN_AUTH. */
const CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000;
const COMMAND = { quit: 0x01, initDb: 0x02, ping: 0x0e } as const;

let nextConnectionId = 1;

/** Frames a payload as a packet: 3-byte little-endian length, sequence id. */
export function mysqlPacket(sequence: number, payload: Uint8Array): Buffer {
  const header = Buffer.from([
    payload.length & 0xff,
    (payload.length >> 8) & 0xff,
    payload.length >> 16,
    sequence,
  ]);
  return Buffer.concat([header, payload]);
}

/** The initial handshake (protocol version 10) with a fresh 20-byte scramble. */
export function handshakePacket(connectionId: number): Buffer {
  const scramble = Buffer.from(randomBytes(20).map((b) => (b % 94) + 33));
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = fixed.writeUInt32LE(connectionId, 0);
  at += scramble.copy(fixed, at, 0, 8);
  at = fixed.writeUInt8(0, at);
  at = fixed.writeUInt16LE(CAPABILITIES & 0xffff, at);
  at = fixed.writeUInt8(CHARSET_UTF8, at);
  at = fixed.writeUInt16LE(STATUS_AUTOCOMMIT, at);
  at = fixed.writeUInt16LE(CAPABILITIES >>> 16, at);
  fixed.writeUInt8(21, at); // auth-plugin-data length; 10 reserved zero bytes follow
  return mysqlPacket(
    0,
    Buffer.concat([
      Buffer.from([10]),
      Buffer.from(`${SERVER_VERSION}\0`, 'latin1'),
      fixed,
      scramble.subarray(8),
      Buffer.from('\0mysql_native_password\0', 'latin1'),
    ]),
  );
}

/** An OK packet: no rows affected, no insert id, autocommit, no warnings. */
export function okPacket(sequence: number): Buffer {
  return mysqlPacket(sequence, Buffer.from([0x00, 0x00, 0x00, STATUS_AUTOCOMMIT, 0x00, 0x00, 0x00]));
}

/** An error packet (protocol 4.1 form): 0xff, code, `#`, SQLSTATE, message. */
export function errorPacket(sequence: number, code: number, sqlState: string, message: string): Buffer {
  const head = Buffer.from([0xff, code & 0xff, code >> 8]);
  return mysqlPacket(sequence, Buffer.concat([head, Buffer.from(`#${sqlState}${message}`, 'utf8')]));
}

const failing = (sequence: number): Buffer =>
  errorPacket(sequence, 1053, '08S01', 'intentlb-lab: host is failing (mode fail503)');

/** Serves MySQL on one connection. */
export function serveMysql(session: Session): void {
  const { stream } = session;
  let authenticated = false;

  readFrames(stream, (buf) => {
    if (buf.length < 4) return 0;
    const length = buf.readUIntLE(0, 3);
    if (buf.length < 4 + length) return 0;
    const sequence = buf[3]!;
    const payload = buf.subarray(4, 4 + length);
    const mode = session.mode();
    const reply = (sequence + 1) & 0xff;
    if (mode === 'silent') return 4 + length;
    if (!authenticated) {
      // The handshake response (any user, any password).
      authenticated = mode === 'ok';
      send(stream, mode === 'ok' ? okPacket(reply) : failing(reply));
      if (mode !== 'ok') stream.end();
      return 4 + length;
    }
    const command = payload[0];
    if (command === COMMAND.quit) stream.end();
    else if (mode === 'fail503') send(stream, failing(reply));
    else if (command === COMMAND.ping || command === COMMAND.initDb) send(stream, okPacket(reply));
    else send(stream, errorPacket(reply, 1047, '08S01', 'intentlb-lab answers no queries'));
    return 4 + length;
  });

  const mode = session.mode();
  if (mode === 'fail503') {
    send(stream, failing(0));
    stream.end();
  } else if (mode === 'ok') {
    send(stream, handshakePacket(nextConnectionId));
    nextConnectionId = (nextConnectionId % 0x7fffffff) + 1;
  }
}
