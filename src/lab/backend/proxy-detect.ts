/**
 * Reads an optional PROXY header off a freshly accepted socket, before any protocol (or TLS) sees it.
 *
 * The header, when there is one, is the first thing the peer sends. Client-first protocols (HTTP,
 * LDAP, ...) simply wait for the first bytes. Server-first protocols (SMTP, MySQL, the TCP echo)
 * cannot: a client without a header waits for the greeting. For those, `firstByteMs` bounds the
 * wait; HAProxy sends the header together with the connection's first packet, so a short wait is
 * enough.
 */
import type { Socket } from 'node:net';
import { type ProxyHeader, parseProxyHeader } from './proxy-protocol.ts';

/** How long to wait, in milliseconds. */
export interface DetectTimeouts {
  /** Without any byte after this long, decide there is no header; null waits indefinitely. */
  firstByteMs: number | null;
  /** A header that started must be complete this long after the first byte. */
  completeMs: number;
}

/** The header (or null) and the bytes that followed it, which belong to the protocol. */
export interface Detected {
  header: ProxyHeader | null;
  rest: Buffer;
}

/**
 * Consumes the socket's first bytes until it is known whether a PROXY header starts it. Leaves the
 * socket paused; rejects when the header is malformed, incomplete in time, or the peer goes away.
 */
export function detectProxyHeader(socket: Socket, timeouts: DetectTimeouts): Promise<Detected> {
  return new Promise<Detected>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;

    const finish = (outcome: Detected | Error): void => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      const first = buffered.length === 0;
      buffered = Buffer.concat([buffered, chunk]);
      const r = parseProxyHeader(buffered);
      if (r.kind === 'ok') finish({ header: r.header, rest: buffered.subarray(r.consumed) });
      else if (r.kind === 'none') finish({ header: null, rest: buffered });
      else if (r.kind === 'error') finish(new Error(`bad PROXY header: ${r.reason}`));
      else if (first) {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new Error('incomplete PROXY header')), timeouts.completeMs);
      }
    };
    const onEnd = (): void => finish(new Error('connection closed before the protocol started'));
    const onError = (err: Error): void => finish(err);

    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    if (timeouts.firstByteMs !== null)
      timer = setTimeout(() => finish({ header: null, rest: buffered }), timeouts.firstByteMs);
  });
}
