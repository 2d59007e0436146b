/** The TCP protocol: a line saying who answered and whom it saw, then an echo of everything. */
import type { Session } from '../types.ts';

/** Serves the echo protocol on one connection: `<host> <port> <client>\n`, then echo. */
export function serveTcp(session: Session): void {
  const { stream } = session;
  stream.on('error', () => stream.destroy());
  if (session.mode() !== 'ok') {
    stream.end();
    return;
  }
  stream.write(`${session.host} ${session.port} ${session.client}\n`);
  stream.pipe(stream);
}
