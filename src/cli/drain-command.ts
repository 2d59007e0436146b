import { resolve } from 'node:path';
import type { Command } from 'commander';
import { drainService } from '../deploy/drain.ts';
import { openStore } from '../deploy/store.ts';
import type { CliIo } from './io.ts';
import { rootOption } from './node-common.ts';

export function registerDrain(program: Command, io: CliIo): void {
  for (const [name, state] of [
    ['drain', 'drain'],
    ['enable', 'ready'],
  ] as const) {
    program
      .command(name)
      .description(
        name === 'drain'
          ? "take a service's servers (or one server) out of rotation without a reload: no new connections, current ones finish"
          : 'put drained servers of a service back into rotation, without a reload',
      )
      .argument('<service>', 'the service id, e.g. web/typo3/www')
      .argument('[server]', 'one server (default: all of the service)')
      .addOption(rootOption())
      .action(async (service: string, server: string | undefined, opts: { root: string }) => {
        const store = openStore(resolve(io.cwd, opts.root));
        const changed = await drainService(store, service, server, state);
        for (const c of changed) io.stdout(`${c}: ${state}\n`);
      });
  }
}
