import type { DnsResolver } from '../infer/dns.ts';

/** Everything the CLI touches, injected so it runs in-process in tests. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
  color: boolean;
  now(): Date;
  /** Overrides dns.yaml + the system resolver (tests). */
  resolver?: DnsResolver;
  /** `INTENTLB_DEBUG=1`: an internal error (or any error) is printed with its stack and causes. */
  debug?: boolean;
}

export { UsageError } from '../errors.ts';

/** The real process's I/O. */
export function processIo(): CliIo {
  return {
    stdout: writer(process.stdout),
    stderr: writer(process.stderr),
    cwd: process.cwd(),
    color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
    now: () => new Date(),
    debug: process.env.INTENTLB_DEBUG === '1',
  };
}

/**
 * Writes to a standard stream until its reader goes away. A reader that closes early
 * (`intentlb explain ... | head`) is a normal end, not a crash: EPIPE is not thrown as an
 * unhandled 'error' event with a stack trace; what is left to print is dropped and the command
 * finishes with its own exit code (an apply piped into `head` is not cut off halfway).
 */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  let gone = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (gone) return; // later writes to the closed stream fail the same way
    if (e.code !== 'EPIPE') throw e;
    gone = true;
  });
  return (text) => {
    if (!gone) stream.write(text);
  };
}
