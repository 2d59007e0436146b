/**
 * HTTP/1.x: every method and path answers a JSON description of what the backend saw, so lab tests
 * can tell which host answered, which client address it saw (PROXY header or TCP peer) and which
 * headers HAProxy added. Connections stay open between requests (HAProxy reuses them).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProtocolHandler, Session } from '../types.ts';

/** The JSON body of a 200 answer. */
export interface HttpEcho {
  host: string;
  port: number;
  client: string;
  headers: IncomingMessage['headers'];
  proxy?: {
    version: 1 | 2;
    source: string;
    sourcePort: number;
    destination: string;
    destinationPort: number;
  };
  tls?: true;
}

/** Longer than any HAProxy `timeout server` the lab uses, so HAProxy closes idle connections first. */
const KEEP_ALIVE_MS = 120_000;

/** The JSON description of a request, as answered in mode `ok`. */
export function describeRequest(session: Session, req: IncomingMessage): HttpEcho {
  const body: HttpEcho = {
    host: session.host,
    port: session.port,
    client: session.client,
    headers: req.headers,
  };
  const a = session.proxy?.addresses;
  if (session.proxy && a) body.proxy = { version: session.proxy.version, ...a };
  if (session.tls) body.tls = true;
  return body;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * An HTTP protocol handler. One `node:http` server (never listening itself) parses every HTTP
 * connection of the backend; it is handed each connection's stream.
 */
export function createHttpHandler(): ProtocolHandler {
  const sessions = new WeakMap<Duplex, Session>();
  const server: Server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, (req, res) => {
    const session = sessions.get(req.socket as Duplex);
    if (session === undefined) {
      res.destroy();
      return;
    }
    req.on('end', () => {
      const mode = session.mode();
      if (mode === 'silent') return;
      if (mode === 'fail503') {
        answer(res, 503, {
          host: session.host,
          port: session.port,
          client: session.client,
          error: 'host is failing (mode fail503)',
        });
      } else answer(res, 200, describeRequest(session, req));
    });
    req.resume();
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = 30_000;

  return (session) => {
    sessions.set(session.stream, session);
    session.stream.on('error', () => session.stream.destroy());
    server.emit('connection', session.stream);
  };
}
