/**
 * The daemon's HTTP endpoint (node:http): `GET /metrics` in the Prometheus text format and
 * `GET /status` as JSON. Read-only; changes go through the control socket, which only root can reach.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpRoutes {
  metrics(): Promise<{ contentType: string; body: string }>;
  status(): unknown;
}

export interface HttpEndpoint {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttp(
  listen: { readonly address: string; readonly port: number },
  routes: HttpRoutes,
): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      routes.metrics().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
      );
      return;
    }
    if (path === '/status') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(routes.status(), null, 2)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /status\n');
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
