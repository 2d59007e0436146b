import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

/** A listening unix socket; `close()` drops its clients and removes the socket file. */
export interface UnixServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on a unix socket at `path` (the caller has cleared a stale file there) and hands each
 * connection to `serve`. Shared by the control sockets of healthd, the supervisor and the lab
 * backends.
 */
export async function listenUnix(path: string, serve: (socket: Socket) => void): Promise<UnixServer> {
  const clients = new Set<Socket>();
  const server: Server = createServer((socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => socket.destroy());
    serve(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    path,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of clients) c.destroy();
      await closed;
      rmSync(path, { force: true });
    },
  };
}
