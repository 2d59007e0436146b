import { runCli } from './program.ts';

/** The real process's I/O. */
export async function main(argv: readonly string[]): Promise<number> {
  return runCli(argv, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    cwd: process.cwd(),
    color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
    now: () => new Date(),
  });
}
