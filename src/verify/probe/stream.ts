/**
 * Opening a TCP or TLS connection to a probed endpoint and reading from it, each step bounded by
 * the probe's timeout. Errors come back as values with a short reason, never as exceptions.
 */
import { connect as netConnect, type Socket } from 'node:net';
import {
  type ConnectionOptions,
  type PeerCertificate,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';
import type { Endpoint } from '../types.ts';

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export interface TlsOptions {
  servername?: string;
  version?: TlsVersion;
  alpn?: string[];
}

export type Opened =
  | { ok: true; socket: Socket; tls?: { protocol: string; alpn: string | false; cert: PeerCertificate } }
  | { ok: false; reason: string };

/** Connects (and shakes hands, with `tls`) within `timeoutMs`. The caller destroys the socket. */
export function open(
  ep: Endpoint,
  timeoutMs: number,
  tls?: TlsOptions,
  own?: (s: Socket) => void,
): Promise<Opened> {
  return new Promise((resolve) => {
    let done = false;
    const base = {
      host: ep.address,
      port: ep.port,
      ...(ep.source !== undefined && { localAddress: ep.source }),
    };
    let socket: Socket;
    const finish = (r: Opened): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        finish({ ok: false, reason: `no ${tls ? 'TLS handshake' : 'connection'} within ${timeoutMs} ms` }),
      timeoutMs,
    );
    if (tls) {
      const opts: ConnectionOptions = {
        ...base,
        rejectUnauthorized: false,
        ...(tls.servername !== undefined && { servername: tls.servername }),
        ...(tls.alpn && { ALPNProtocols: tls.alpn }),
        // Versions below TLS 1.2 need security level 0 in OpenSSL 3 (SHA-1 signatures): the probe
        // must be able to offer what a drifted server would accept.
        ...(tls.version && {
          minVersion: tls.version,
          maxVersion: tls.version,
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
      };
      const t: TLSSocket = tlsConnect(opts, () =>
        finish({
          ok: true,
          socket: t,
          tls: {
            protocol: t.getProtocol() ?? '',
            alpn: t.alpnProtocol ?? false,
            cert: t.getPeerCertificate(),
          },
        }),
      );
      socket = t;
    } else {
      socket = netConnect(base, () => finish({ ok: true, socket }));
    }
    own?.(socket);
    socket.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, reason: reasonOf(e) }));
    socket.on('close', () => finish({ ok: false, reason: 'closed before the handshake' }));
  });
}

/** A short reason for a socket error: the errno code, or OpenSSL's reason for a failed handshake. */
export function reasonOf(e: NodeJS.ErrnoException): string {
  const ssl = /:([a-z0-9 ]+):[^:]*$/.exec(e.message)?.[1] ?? /alert [a-z ]+/.exec(e.message)?.[0];
  return e.code?.startsWith('ERR_SSL') && ssl ? ssl : (e.code ?? e.message);
}

/** The answer to a request: what arrived until `enough` said so, the peer closed, or time ran out. */
export type Read = { data: Buffer; end: 'enough' | 'closed' | 'timeout' };

/**
 * Sends `send` (if any) and reads until `enough(data)` is true, the connection closes or
 * `timeoutMs` passes. Destroys the socket.
 */
export function exchange(
  socket: Socket,
  send: Buffer | string | undefined,
  enough: (data: Buffer) => boolean,
  timeoutMs: number,
): Promise<Read> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (end: Read['end']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), end });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs).unref();
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (enough(Buffer.concat(chunks))) finish('enough');
    });
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    if (send !== undefined) socket.write(send);
  });
}
