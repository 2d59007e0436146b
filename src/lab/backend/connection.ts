/**
 * What happens to one accepted connection, in order: the mode decides whether to answer at all; an
 * optional PROXY header is read and stripped; TLS is terminated on `:tls` ports; then the port's
 * protocol handler gets the stream.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type SecureContext, TLSSocket } from 'node:tls';
import { detectProxyHeader } from './proxy-detect.ts';
import { SplicedStream } from './spliced-stream.ts';
import type { Mode, ProtocolHandler } from './types.ts';

/** A started header must be complete within this long. */
const PROXY_COMPLETE_MS = 5_000;
const TLS_HANDSHAKE_MS = 10_000;

/** Everything a connection needs to know about the port it arrived on. */
export interface PortContext {
  host: string;
  /** The bound local port. */
  port: number;
  handler: ProtocolHandler;
  /** The protocol talks first (SMTP, MySQL, echo): wait at most `proxyWaitMs` for a PROXY header. */
  serverFirst: boolean;
  /** How long a server-first port waits for a PROXY header before greeting. */
  proxyWaitMs: number;
  /** Set on `:tls` ports. */
  secureContext: SecureContext | null;
  mode(): Mode;
}

const ignore = (): void => {};

/** Serves one accepted connection; never rejects (a failing connection is destroyed). */
export async function serveConnection(socket: Socket, port: PortContext): Promise<void> {
  socket.on('error', ignore);
  socket.setNoDelay(true);
  const mode = port.mode();
  if (mode === 'refuse') {
    socket.destroy();
    return;
  }
  if (mode === 'silent') {
    // Accept, swallow, never answer; let the peer's close release the socket.
    socket.on('end', () => socket.end());
    socket.resume();
    return;
  }
  try {
    const waitFirstByte = port.serverFirst && port.secureContext === null;
    const detected = await detectProxyHeader(socket, {
      firstByteMs: waitFirstByte ? port.proxyWaitMs : null,
      completeMs: PROXY_COMPLETE_MS,
    });
    let stream: Duplex = new SplicedStream(socket, detected.rest);
    stream.on('error', ignore);
    if (port.secureContext !== null) stream = await terminateTls(stream, port.secureContext);
    port.handler({
      host: port.host,
      port: port.port,
      client: detected.header?.addresses?.source ?? socket.remoteAddress ?? 'unknown',
      proxy: detected.header,
      tls: port.secureContext !== null,
      stream,
      mode: port.mode,
    });
  } catch {
    // A client that sent a bad PROXY header or failed its handshake: drop that connection only.
    socket.destroy();
  }
}

/** Runs the server side of a TLS handshake over `stream`; resolves with the decrypted stream. */
function terminateTls(stream: Duplex, secureContext: SecureContext): Promise<TLSSocket> {
  const tls = new TLSSocket(stream, { isServer: true, secureContext });
  return new Promise<TLSSocket>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      tls.off('secure', ok);
      tls.destroy();
      reject(err);
    };
    const onClose = (): void => fail(new Error('closed during the TLS handshake'));
    const ok = (): void => {
      clearTimeout(timer);
      tls.off('error', fail);
      tls.off('close', onClose);
      tls.on('error', ignore);
      resolve(tls);
    };
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), TLS_HANDSHAKE_MS);
    tls.once('secure', ok);
    tls.once('error', fail);
    tls.once('close', onClose);
  });
}
