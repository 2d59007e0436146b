/**
 * The read loop the binary and line protocols share: buffer what arrives, let the protocol take
 * complete frames off the front, stop once the connection is closing.
 */
import type { Duplex } from 'node:stream';

/** A protocol's frame reader: bytes taken off the front of `buffered`, 0 when a frame is incomplete. */
export type FrameConsumer = (buffered: Buffer) => number;

/** A peer may not buffer more than this without completing a frame. */
const MAX_BUFFERED = 1024 * 1024;

/** Whether anything can still be written to the stream. */
export function isOpen(stream: Duplex): boolean {
  return !stream.destroyed && !stream.writableEnded;
}

/** Writes when the stream is still open; a no-op once the protocol has ended the connection. */
export function send(stream: Duplex, data: string | Uint8Array): void {
  if (isOpen(stream)) stream.write(data);
}

/**
 * Runs `consume` over the stream's bytes until the connection closes. A peer that ends its side gets
 * ours ended too; errors (resets) just end the session.
 */
export function readFrames(stream: Duplex, consume: FrameConsumer): void {
  let buffered: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length > 0 && isOpen(stream)) {
      const taken = consume(buffered);
      if (taken === 0) break;
      buffered = buffered.subarray(taken);
    }
    if (!isOpen(stream)) buffered = Buffer.alloc(0);
    if (buffered.length > MAX_BUFFERED) stream.destroy();
  });
  stream.on('end', () => {
    if (isOpen(stream)) stream.end();
  });
  stream.on('error', () => stream.destroy());
}

/**
 * A consumer for CRLF (or LF) terminated text lines; `onLine` gets the line without its terminator.
 * Lines longer than `maxLength` close the connection.
 */
export function lineConsumer(
  stream: Duplex,
  onLine: (line: string) => void,
  maxLength = 8192,
): FrameConsumer {
  return (buffered) => {
    const lf = buffered.indexOf(0x0a);
    if (lf < 0) {
      if (buffered.length > maxLength) stream.destroy();
      return 0;
    }
    const end = lf > 0 && buffered[lf - 1] === 0x0d ? lf - 1 : lf;
    onLine(buffered.subarray(0, end).toString('latin1'));
    return lf + 1;
  };
}
