/**
 * A duplex stream that replays bytes already read from a socket, then carries the socket's traffic.
 *
 * Why not `socket.unshift(rest)`: node:http and node:tls read a `net.Socket`'s native handle
 * directly when they can, bypassing whatever sits in its JavaScript buffer, so bytes read during
 * PROXY detection could be lost or reordered. This stream has no native handle, which makes both
 * of them read through it, in order.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** The socket's traffic, preceded by `head`. Owns the socket: destroying one destroys the other. */
export class SplicedStream extends Duplex {
  readonly #socket: Socket;

  /** Wraps a paused socket (as `detectProxyHeader` leaves it). */
  constructor(socket: Socket, head: Buffer) {
    super({ allowHalfOpen: true });
    this.#socket = socket;
    if (head.length > 0) this.push(head);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('timeout', () => this.emit('timeout'));
    if (socket.destroyed) this.destroy();
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy();
    callback(err);
  }

  /** Like `net.Socket#setTimeout` (node:http uses it for keep-alive): 'timeout' is re-emitted here. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#socket.setTimeout(ms);
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  /** The TCP peer's address. */
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
}
