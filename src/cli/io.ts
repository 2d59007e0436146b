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
}

/** A usage problem: exit code 2, a message, no stack trace. */
export class UsageError extends Error {}

/** The real process's I/O. */
export function processIo(): CliIo {
  return {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    cwd: process.cwd(),
    color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
    now: () => new Date(),
  };
}
