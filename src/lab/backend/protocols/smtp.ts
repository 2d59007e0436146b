/**
 * Just enough SMTP for HAProxy's `option smtpchk` (greeting, `HELO localhost`, expects 2xx) and a
 * simple client: HELO/EHLO, MAIL, RCPT, DATA, NOOP, RSET, QUIT. Messages are accepted and dropped.
 */
import type { Session } from '../types.ts';
import { isOpen, lineConsumer, readFrames, send } from './framing.ts';

/** Serves SMTP on one connection. */
export function serveSmtp(session: Session): void {
  const { stream, host } = session;
  const unavailable = (): void => {
    send(stream, `421 ${host} Service not available, closing transmission channel\r\n`);
    stream.end();
  };
  let inData = false;

  const onLine = (line: string): void => {
    const mode = session.mode();
    if (mode === 'silent') return;
    if (inData) {
      if (line !== '.') return;
      inData = false;
      if (mode === 'fail503') unavailable();
      else send(stream, '250 2.0.0 OK: queued\r\n');
      return;
    }
    if (mode === 'fail503') {
      unavailable();
      return;
    }
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? '' : line.slice(space + 1).trim();
    send(stream, reply(verb, arg, host));
    if (verb === 'DATA') inData = true;
    if (verb === 'QUIT') stream.end();
  };

  readFrames(stream, lineConsumer(stream, onLine));
  const mode = session.mode();
  if (mode === 'fail503') unavailable();
  else if (mode === 'ok' && isOpen(stream)) send(stream, `220 ${host} ESMTP intentlb-lab\r\n`);
}

/** The answer to one command outside DATA. */
function reply(verb: string, arg: string, host: string): string {
  switch (verb) {
    case 'HELO':
      return `250 ${host}\r\n`;
    case 'EHLO':
      return `250-${host} greets ${arg || 'you'}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 HELP\r\n`;
    case 'MAIL':
    case 'RCPT':
    case 'NOOP':
    case 'RSET':
      return '250 2.0.0 OK\r\n';
    case 'DATA':
      return '354 End data with <CR><LF>.<CR><LF>\r\n';
    case 'QUIT':
      return `221 2.0.0 ${host} closing connection\r\n`;
    default:
      return '502 5.5.2 Command not implemented\r\n';
  }
}
