/**
 * The error model (docs/adr/0018-error-model.md). Problems in a site's files are diagnostics
 * (data, never thrown). An operation that cannot go on for a reason the operator can act on (a
 * lock held, no supervisor, a bad flag, a daemon that refused) throws an {@link IntentlbError}: the
 * CLI prints its message, without a stack trace, and exits with its `exitCode`. Anything else that
 * reaches the CLI is a bug: "internal error", exit 70, and the stack when `INTENTLB_DEBUG=1`.
 *
 * A leaf module: it imports nothing, so every folder may use it.
 */

/** The exit codes of `intentlb`. */
export const EXIT = {
  /** Done; warnings allowed. */
  ok: 0,
  /** Errors in the site, or an operation failed (see the message). */
  failed: 1,
  /** Bad command line. */
  usage: 2,
  /** A bug in intentlb (EX_SOFTWARE); `INTENTLB_DEBUG=1` prints the stack. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface IntentlbErrorOptions {
  /** The error this one rewraps (shown under `INTENTLB_DEBUG=1`). */
  readonly cause?: unknown;
  /** A diagnostic code, or a code from the thrower's own closed list (e.g. healthd's reply codes). */
  readonly code?: string;
}

/**
 * The base of every error an operator is meant to read: the CLI prints the message (through
 * `visible`) and exits with `exitCode` (1 unless a subclass says otherwise).
 */
export class IntentlbError extends Error {
  readonly exitCode: ExitCode = EXIT.failed;
  readonly code: string | undefined;

  constructor(message: string, options: IntentlbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
  }
}

/** A bad command line: exit code 2. */
export class UsageError extends IntentlbError {
  override readonly exitCode: ExitCode = EXIT.usage;
}

/** `err.code` of a Node system error (`ENOENT`, `EACCES`, ...), if it is one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `err` says the file or folder does not exist (the one failure a reader may expect). */
export function isMissing(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

/** `err`'s message, or the thrown value as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What `INTENTLB_DEBUG=1` prints: the stack of `err` and of each error in its `cause` chain.
 */
export function debugTrace(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e !== undefined && !seen.has(e)) {
    seen.add(e);
    const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    parts.push(parts.length === 0 ? text : `caused by: ${text}`);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\n');
}
