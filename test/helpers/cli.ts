import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/program.ts';
import type { DnsResolver } from '../../src/infer/dns.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `intentlb <argv>` in-process without colour, output collected; `cwd` is the repository by default. */
export async function cli(
  argv: string[],
  opts: { cwd?: string; resolver?: DnsResolver; debug?: boolean } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    cwd: opts.cwd ?? ROOT,
    color: false,
    now: () => new Date(),
    ...(opts.resolver && { resolver: opts.resolver }),
    ...(opts.debug !== undefined && { debug: opts.debug }),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
