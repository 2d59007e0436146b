/**
 * Just enough IMAP and POP3 for HAProxy's greeting checks (`tcp-check expect rstring ^\* OK`,
 * `expect string +OK`) and a simple client: the greeting says who answered and whom it saw; a few
 * commands are answered, the rest refused; LOGOUT/QUIT close.
 */
import type { Session } from '../types.ts';
import { isOpen, lineConsumer, readFrames, send } from './framing.ts';

/** Serves IMAP4rev1 greeting, CAPABILITY, NOOP and LOGOUT on one connection. */
export function serveImap(session: Session): void {
  const { stream, host } = session;
  const onLine = (line: string): void => {
    if (session.mode() === 'silent') return;
    if (session.mode() === 'fail503') {
      send(stream, `* BYE ${host} unavailable\r\n`);
      stream.end();
      return;
    }
    const [tag = '*', verb = ''] = line.split(' ');
    switch (verb.toUpperCase()) {
      case 'CAPABILITY':
        send(stream, `* CAPABILITY IMAP4rev1\r\n${tag} OK CAPABILITY completed\r\n`);
        return;
      case 'NOOP':
        send(stream, `${tag} OK NOOP completed\r\n`);
        return;
      case 'LOGOUT':
        send(stream, `* BYE ${host} logging out\r\n${tag} OK LOGOUT completed\r\n`);
        stream.end();
        return;
      default:
        send(stream, `${tag} BAD command not implemented\r\n`);
    }
  };
  readFrames(stream, lineConsumer(stream, onLine));
  greet(
    session,
    `* OK [CAPABILITY IMAP4rev1] ${host} intentlb-lab ready (client ${session.client})\r\n`,
    () => {
      send(stream, `* BYE ${host} unavailable\r\n`);
    },
  );
}

/** Serves the POP3 greeting, CAPA, NOOP and QUIT on one connection. */
export function servePop3(session: Session): void {
  const { stream, host } = session;
  const onLine = (line: string): void => {
    if (session.mode() === 'silent') return;
    if (session.mode() === 'fail503') {
      send(stream, `-ERR ${host} unavailable\r\n`);
      stream.end();
      return;
    }
    const verb = (line.split(' ')[0] ?? '').toUpperCase();
    if (verb === 'QUIT') {
      send(stream, `+OK ${host} signing off\r\n`);
      stream.end();
    } else if (verb === 'NOOP') send(stream, '+OK\r\n');
    else if (verb === 'CAPA') send(stream, '+OK capability list follows\r\nUSER\r\n.\r\n');
    else send(stream, '-ERR command not implemented\r\n');
  };
  readFrames(stream, lineConsumer(stream, onLine));
  greet(session, `+OK ${host} intentlb-lab ready (client ${session.client})\r\n`, () => {
    send(stream, `-ERR ${host} unavailable\r\n`);
  });
}

/** The server speaks first: greet in mode ok, refuse and close in fail503, say nothing when silent. */
function greet(session: Session, greeting: string, unavailable: () => void): void {
  const mode = session.mode();
  if (mode === 'fail503') {
    unavailable();
    session.stream.end();
  } else if (mode === 'ok' && isOpen(session.stream)) send(session.stream, greeting);
}
