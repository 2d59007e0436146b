/**
 * The control socket: a unix socket through which the lab makes a backend host fail and recover.
 * Text lines in, one JSON line out per command:
 *
 * - `mode ok|fail503|silent|refuse` → `{"ok":true,"mode":"fail503"}`
 * - `status` → `{"ok":true,"status":{"host":...,"mode":...,"listeners":[...],"connections":0}}`
 * - anything else → `{"ok":false,"error":"..."}`
 */
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { listenUnix } from '../../runtime/unix-server.ts';
import type { BackendHandle } from './server.ts';
import { isMode, MODES } from './types.ts';

/** A running control socket. */
export interface ControlHandle {
  readonly path: string;
  /** Stops listening, drops control connections and removes the socket file. */
  close(): Promise<void>;
}

/** Answers one command line. */
export async function runControlCommand(backend: BackendHandle, line: string): Promise<object> {
  const [verb = '', arg, ...extra] = line.trim().split(/\s+/);
  if (verb === 'status' && arg === undefined) return { ok: true, status: backend.status() };
  if (verb === 'mode' && arg !== undefined && extra.length === 0) {
    if (!isMode(arg)) return { ok: false, error: `unknown mode '${arg}' (one of ${MODES.join(', ')})` };
    await backend.setMode(arg);
    return { ok: true, mode: backend.mode };
  }
  return { ok: false, error: `unknown command '${line.trim()}' (mode <${MODES.join('|')}> or status)` };
}

/** Listens on the unix socket `path` (a stale socket file there is replaced). */
export async function startControl(path: string, backend: BackendHandle): Promise<ControlHandle> {
  rmSync(path, { force: true });
  return listenUnix(path, (socket) => serveClient(socket, backend));
}

/** Reads command lines and answers them in order. */
function serveClient(socket: Socket, backend: BackendHandle): void {
  let pending = '';
  let chain: Promise<void> = Promise.resolve();
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    pending += text;
    if (pending.length > 4096) {
      socket.destroy();
      return;
    }
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      chain = chain.then(async () => {
        const reply = await runControlCommand(backend, line).catch((err: unknown) => ({
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        }));
        if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
      });
    }
  });
  socket.on('end', () => {
    void chain.then(() => socket.end());
  });
}
