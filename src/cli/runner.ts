import { Command, CommanderError } from 'commander';
import { visible } from '../diagnostics/visible.ts';
import { debugTrace, EXIT, IntentlbError, messageOf } from '../errors.ts';
import { version } from '../runtime/version.ts';
import type { CliIo } from './io.ts';

/** Adds commands to the program. */
export type Register = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

/**
 * The `intentlb` program with the commands `define` adds, run in-process. Returns the exit code:
 * 0 clean (warnings allowed), 1 errors, 2 usage, 70 internal error (src/errors.ts). An
 * {@link IntentlbError} prints its message and exits with its code; anything else is a bug, "internal
 * error". Stacks (with each `cause`) only under `INTENTLB_DEBUG=1`, never for a user's mistake. The full CLI (`program.ts`) and the health checker's lean entry
 * (`healthd-main.ts`) both run through it.
 */
export async function runProgram(argv: readonly string[], io: CliIo, define: Register): Promise<number> {
  let exit = 0;
  let helpOnStderr = false;
  const setExit = (code: number): void => {
    exit = Math.max(exit, code);
  };
  const program = new Command('intentlb')
    .description('Intent-driven, highly available HAProxy load balancing')
    .version(version())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => {
        helpOnStderr = true;
        io.stderr(s);
      },
      outputError: (s, write) => write(s),
    })
    .showSuggestionAfterError(true)
    .helpCommand(true);

  define(program, io, setExit);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // Help asked for (`intentlb help`, on stdout) is a success; help shown on stderr because no
      // command was given is a usage error. (commander's own exit code reads process.exitCode.)
      if (e.code === 'commander.help') return helpOnStderr ? EXIT.usage : EXIT.ok;
      return EXIT.usage;
    }
    const known = e instanceof IntentlbError;
    io.stderr(`intentlb: ${known ? '' : 'internal error: '}${visible(messageOf(e))}\n`);
    if (io.debug === true) io.stderr(`${visible(debugTrace(e), { multiline: true })}\n`);
    return known ? e.exitCode : EXIT.internal;
  }
}
