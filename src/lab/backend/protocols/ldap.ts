/**
 * Just enough LDAPv3 (RFC 4511) for HAProxy's `option ldap-check` and a simple client: a bind
 * succeeds (anonymous or not), a search finds nothing — except one with the base DN `cn=session`,
 * which finds one entry saying who answered and whom it saw (`host`, `port`, `client`: the PROXY
 * header's source when one came) — and unbind closes.
 *
 * HAProxy 2.6 sends the anonymous simple bind `30 0c 02 01 01 60 07 02 01 03 04 00 80 00` and wants
 * at least 14 bytes back, starting `30 xx 02 01 01 61`, with `0a 01 <resultCode>` right after the
 * bindResponse length and resultCode 0; the answer here is `30 0c 02 01 01 61 07 0a 01 00 04 00 04 00`.
 */
import type { Session } from '../types.ts';
import { decodeUnsigned, encodeBer, encodeUnsigned, readBer } from './ber.ts';
import { readFrames, send } from './framing.ts';

const TAG = {
  sequence: 0x30,
  integer: 0x02,
  octetString: 0x04,
  enumerated: 0x0a,
  bindRequest: 0x60,
  bindResponse: 0x61,
  unbindRequest: 0x42,
  searchRequest: 0x63,
  searchResultEntry: 0x64,
  set: 0x31,
  searchResultDone: 0x65,
  abandonRequest: 0x50,
  extendedResponse: 0x78,
  responseName: 0x8a,
} as const;

/** RFC 4511 section 4.1.9 result codes used here. */
const RESULT = { success: 0, protocolError: 2, unavailable: 52 } as const;

/** The OID of the Notice of Disconnection (RFC 4511 section 4.4.1). */
const NOTICE_OF_DISCONNECTION = '1.3.6.1.4.1.1466.20036';

/** An LDAPMessage `{ messageID, protocolOp { resultCode, matchedDN, diagnosticMessage, extra } }`. */
export function encodeLdapResult(
  messageId: number,
  opTag: number,
  resultCode: number,
  diagnostic = '',
  extra: Buffer = Buffer.alloc(0),
): Buffer {
  const result = Buffer.concat([
    encodeBer(TAG.enumerated, encodeUnsigned(resultCode)),
    encodeBer(TAG.octetString, Buffer.alloc(0)),
    encodeBer(TAG.octetString, Buffer.from(diagnostic, 'utf8')),
    extra,
  ]);
  const body = Buffer.concat([encodeBer(TAG.integer, encodeUnsigned(messageId)), encodeBer(opTag, result)]);
  return encodeBer(TAG.sequence, body);
}

/** The base DN whose search describes the session. */
export const SESSION_DN = 'cn=session';

/** A searchResultEntry `cn=session` with the attributes host, port and client. */
function encodeSessionEntry(messageId: number, session: Session): Buffer {
  const octets = (text: string): Buffer => encodeBer(TAG.octetString, Buffer.from(text, 'utf8'));
  const attribute = (name: string, value: string): Buffer =>
    encodeBer(TAG.sequence, Buffer.concat([octets(name), encodeBer(TAG.set, octets(value))]));
  const attributes = Buffer.concat([
    attribute('host', session.host),
    attribute('port', String(session.port)),
    attribute('client', session.client),
  ]);
  const entry = encodeBer(
    TAG.searchResultEntry,
    Buffer.concat([octets(SESSION_DN), encodeBer(TAG.sequence, attributes)]),
  );
  return encodeBer(TAG.sequence, Buffer.concat([encodeBer(TAG.integer, encodeUnsigned(messageId)), entry]));
}

/**
 * The attributes of the first searchResultEntry in `buf` (what a `cn=session` search returns), or
 * null when `buf` does not start with one. For clients of the lab (tests).
 */
export function decodeSearchEntry(buf: Buffer): Record<string, string> | null {
  const message = readBer(buf);
  if (message.kind !== 'ok' || message.tag !== TAG.sequence) return null;
  const id = readBer(message.value);
  if (id.kind !== 'ok') return null;
  const op = readBer(message.value, id.end);
  if (op.kind !== 'ok' || op.tag !== TAG.searchResultEntry) return null;
  const name = readBer(op.value);
  if (name.kind !== 'ok') return null;
  const list = readBer(op.value, name.end);
  if (list.kind !== 'ok') return null;
  const out: Record<string, string> = {};
  for (let at = 0; at < list.value.length; ) {
    const attribute = readBer(list.value, at);
    if (attribute.kind !== 'ok') return null;
    const type = readBer(attribute.value);
    const values = type.kind === 'ok' ? readBer(attribute.value, type.end) : type;
    const first = values.kind === 'ok' ? readBer(values.value) : values;
    if (type.kind === 'ok' && first.kind === 'ok')
      out[type.value.toString('utf8')] = first.value.toString('utf8');
    at = attribute.end;
  }
  return out;
}

/** Serves LDAP on one connection. */
export function serveLdap(session: Session): void {
  const { stream } = session;
  const disconnect = (reason: string): void => {
    const name = encodeBer(TAG.responseName, Buffer.from(NOTICE_OF_DISCONNECTION, 'latin1'));
    send(stream, encodeLdapResult(0, TAG.extendedResponse, RESULT.protocolError, reason, name));
    stream.end();
  };

  readFrames(stream, (buf) => {
    const message = readBer(buf);
    if (message.kind === 'need-more') return 0;
    if (message.kind === 'error' || message.tag !== TAG.sequence) {
      disconnect(message.kind === 'error' ? message.reason : 'expected an LDAPMessage');
      return buf.length;
    }
    const id = readBer(message.value);
    const messageId = id.kind === 'ok' && id.tag === TAG.integer ? decodeUnsigned(id.value) : null;
    const op = id.kind === 'ok' ? readBer(message.value, id.end) : id;
    if (messageId === null || op.kind !== 'ok') {
      disconnect('malformed LDAPMessage');
      return buf.length;
    }
    const mode = session.mode();
    if (mode === 'silent') return message.end;
    const failing = mode === 'fail503';
    switch (op.tag) {
      case TAG.bindRequest: {
        const version = readBer(op.value);
        const v3 = version.kind === 'ok' && decodeUnsigned(version.value) === 3;
        const code = failing ? RESULT.unavailable : v3 ? RESULT.success : RESULT.protocolError;
        const text = failing ? 'intentlb-lab: host is failing (mode fail503)' : v3 ? '' : 'only LDAPv3';
        send(stream, encodeLdapResult(messageId, TAG.bindResponse, code, text));
        break;
      }
      case TAG.searchRequest: {
        const base = readBer(op.value);
        if (!failing && base.kind === 'ok' && base.value.toString('utf8') === SESSION_DN) {
          send(stream, encodeSessionEntry(messageId, session));
        }
        send(
          stream,
          encodeLdapResult(messageId, TAG.searchResultDone, failing ? RESULT.unavailable : RESULT.success),
        );
        break;
      }
      case TAG.unbindRequest:
        stream.end();
        break;
      case TAG.abandonRequest:
        break;
      default:
        disconnect(`unsupported operation 0x${op.tag.toString(16)}`);
    }
    return message.end;
  });
}
