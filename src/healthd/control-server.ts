/**
 * The daemon's end of the control socket (protocol in control-protocol.ts). Requests on one
 * connection are answered in order; connections are independent, so a `hold` waiting for BIRD
 * does not block a `status` on another connection.
 */

import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { IntentlbError, isMissing } from '../errors.ts';
import { listenUnix } from '../runtime/unix-server.ts';
import { type ControlReply, type ControlRequest, MAX_LINE, parseRequest } from './control-protocol.ts';

export type ControlHandler = (request: ControlRequest) => Promise<ControlReply>;

export interface ControlServer {
  readonly path: string;
  /** Stops listening, drops connections, removes the socket file. */
  close(): Promise<void>;
}

/** Listens on `path` (mode 0600). A stale socket is replaced; a live one (another healthd) is an error. */
export async function startControlServer(path: string, handler: ControlHandler): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true });
  await clearStaleSocket(path);
  const server = await listenUnix(path, (socket) => serve(socket, handler));
  chmodSync(path, 0o600);
  return server;
}

async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if (isMissing(err)) return; // nothing there
    throw err;
  }
  if (!isSocket) throw new IntentlbError(`control socket path ${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new IntentlbError(`another healthd is listening on ${path}`);
  rmSync(path, { force: true });
}

function serve(socket: Socket, handler: ControlHandler): void {
  let buffered = '';
  let chain: Promise<void> = Promise.resolve();
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      // answer() turns a failing handler into an E_INTERNAL reply; anything else failing (a bug)
      // ends the connection, so the chain never holds a rejection nobody handles.
      chain = chain
        .then(() => answer(socket, line, handler))
        .catch((err: unknown) => {
          socket.destroy(err instanceof Error ? err : new Error(String(err)));
        });
    }
    if (buffered.length > MAX_LINE) {
      socket.end(`${JSON.stringify({ ok: false, code: 'E_BAD_REQUEST', error: 'request line too long' })}\n`);
      buffered = '';
    }
  });
}

async function answer(socket: Socket, line: string, handler: ControlHandler): Promise<void> {
  const request = parseRequest(line);
  let reply: ControlReply;
  if ('ok' in request) reply = request;
  else {
    try {
      reply = await handler(request);
    } catch (err) {
      // A bug, not a user's mistake: still answer, so the client does not hang.
      reply = {
        ok: false,
        cmd: request.cmd,
        code: 'E_INTERNAL',
        error: `internal error: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
  if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
}
