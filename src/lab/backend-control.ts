/**
 * Talks to a lab backend host's control socket: make the host fail (`fail503`, `silent`,
 * `refuse`) or recover (`ok`), or read its status. For tests, demos and `intentlb lab mode`.
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { isMode, MODES, type Mode } from './backend/types.ts';
import { LabError } from './errors.ts';

/** The control socket of a backend host in a lab folder. */
export function controlSocket(labDir: string, host: string): string {
  return join(labDir, 'hosts', `${host}.ctl`);
}

/** Sends one command line and returns the parsed JSON answer. */
export function controlCommand(
  socket: string,
  line: string,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ path: socket });
    let text = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new LabError(`${socket}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.on('connect', () => c.write(`${line}\n`));
    c.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.end();
      try {
        resolve(JSON.parse(text.slice(0, nl)) as Record<string, unknown>);
      } catch (e) {
        reject(new LabError(`${socket}: unreadable answer`, { cause: e }));
      }
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(new LabError(`${socket}: ${e.message}`, { cause: e }));
    });
  });
}

/** Switches a backend host of the lab in `labDir` to `mode`; resolves once the host confirms. */
export async function setBackendMode(labDir: string, host: string, mode: Mode | string): Promise<void> {
  if (!isMode(mode)) throw new LabError(`unknown mode "${mode}" (one of ${MODES.join(', ')})`);
  const reply = await controlCommand(controlSocket(labDir, host), `mode ${mode}`);
  if (reply.ok !== true || reply.mode !== mode) {
    throw new LabError(`${host}: mode ${mode} refused: ${String(reply.error ?? JSON.stringify(reply))}`);
  }
}
