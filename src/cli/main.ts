import { processIo } from './io.ts';
import { runCli } from './program.ts';

/** The whole CLI, in the real process. */
export async function main(argv: readonly string[]): Promise<number> {
  return runCli(argv, processIo());
}
