import { registerHealthd } from './healthd-command.ts';
import { processIo } from './io.ts';
import { runProgram } from './runner.ts';

/**
 * `intentlb healthd ...` alone: the launcher (bin/intentlb.mjs) starts the health checker through
 * this entry, so the long-running daemon loads only its own modules, not the compiler, the lab or
 * deploy (about 10 MiB less RSS). Same program name, options and help as in the full CLI.
 */
export async function main(argv: readonly string[]): Promise<number> {
  return runProgram(argv, processIo(), registerHealthd);
}
