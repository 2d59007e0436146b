/**
 * The subset of ASN.1 BER that LDAP messages need (RFC 4511 section 5.1): single-byte tags, definite
 * lengths in short or long form. Reads never throw; they say when more bytes are needed.
 */

/** One element read off a buffer. */
export type BerRead =
  | { kind: 'need-more' }
  | { kind: 'error'; reason: string }
  | { kind: 'ok'; tag: number; value: Buffer; end: number };

/** Reads the element starting at `offset`; `end` is the offset just after it. */
export function readBer(buf: Buffer, offset = 0): BerRead {
  if (buf.length < offset + 2) return { kind: 'need-more' };
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return { kind: 'error', reason: 'multi-byte tags are not supported' };
  const first = buf[offset + 1]!;
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0) return { kind: 'error', reason: 'indefinite lengths are not allowed in LDAP' };
    if (count > 4) return { kind: 'error', reason: 'length too large' };
    if (buf.length < offset + 2 + count) return { kind: 'need-more' };
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    header += count;
  }
  const start = offset + header;
  if (buf.length < start + length) return { kind: 'need-more' };
  return { kind: 'ok', tag, value: buf.subarray(start, start + length), end: start + length };
}

/** Encodes one element with a minimal definite length. */
export function encodeBer(tag: number, value: Uint8Array): Buffer {
  let length: Buffer;
  if (value.length < 0x80) length = Buffer.from([value.length]);
  else {
    const bytes: number[] = [];
    for (let n = value.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, value]);
}

/** Decodes a non-negative INTEGER or ENUMERATED value (up to 6 bytes); null when negative or too long. */
export function decodeUnsigned(value: Buffer): number | null {
  if (value.length === 0 || value.length > 6 || (value[0]! & 0x80) !== 0) return null;
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** Encodes a small non-negative number as INTEGER/ENUMERATED contents (two's complement, minimal). */
export function encodeUnsigned(n: number): Buffer {
  const bytes: number[] = [];
  let rest = n;
  do {
    bytes.unshift(rest & 0xff);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Buffer.from(bytes);
}
