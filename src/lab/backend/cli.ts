/** The command line of the lab backend (`main.ts`), parsed without side effects. */
import { parseArgs } from 'node:util';
import { parseListenSpec } from './listen-spec.ts';
import type { ListenSpec } from './types.ts';

/** The usage text printed on `--help` and on errors. */
export const USAGE = `usage: node --import tsx src/lab/backend/main.ts --host <name> --listen <spec> [--listen <spec> ...]
         [--control <unix-socket-path>] [--tls-cert <pem> --tls-key <pem>] [--proxy-wait-ms <ms>]

  <spec>  <protocol>:<address>:<port>[:tls]   protocol: http smtp ldap mysql pgsql redis imap pop3 tcp
          e.g. http:198.18.1.10:8080  smtp:[2001:db8::5]:25  http:198.18.1.10:8443:tls

  Control socket lines: "mode ok|fail503|silent|refuse", "status" (one JSON line answers each).
  SIGUSR1 toggles ok <-> fail503; SIGTERM/SIGINT stop.`;

/** The parsed command line. */
export interface CliOptions {
  host: string;
  listen: ListenSpec[];
  control: string | null;
  tls: { certFile: string; keyFile: string } | null;
  proxyWaitMs: number | null;
}

/** What `parseCli` returns: options, a help request, or the reason the command line is wrong. */
export type CliParse =
  | { kind: 'run'; options: CliOptions }
  | { kind: 'help' }
  | { kind: 'error'; message: string };

/** Parses the arguments after the script name. */
export function parseCli(argv: readonly string[]): CliParse {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  if (values.host === undefined || values.host === '')
    return { kind: 'error', message: '--host is required' };
  const specs = values.listen ?? [];
  if (specs.length === 0) return { kind: 'error', message: 'at least one --listen is required' };
  let listen: ListenSpec[];
  try {
    listen = specs.map(parseListenSpec);
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined))
    return { kind: 'error', message: '--tls-cert and --tls-key go together' };
  let proxyWaitMs: number | null = null;
  if (values['proxy-wait-ms'] !== undefined) {
    proxyWaitMs = Number(values['proxy-wait-ms']);
    if (!Number.isInteger(proxyWaitMs) || proxyWaitMs < 0)
      return { kind: 'error', message: '--proxy-wait-ms must be a non-negative integer' };
  }
  return {
    kind: 'run',
    options: {
      host: values.host,
      listen,
      control: values.control ?? null,
      tls: cert !== undefined && key !== undefined ? { certFile: cert, keyFile: key } : null,
      proxyWaitMs,
    },
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      listen: { type: 'string', multiple: true },
      control: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'proxy-wait-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
