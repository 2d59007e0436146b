import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openStore } from '../deploy/store.ts';
import { Supervisor } from '../deploy/supervisor.ts';
import type { CliIo } from './io.ts';
import { rootOption } from './node-common.ts';

export function registerSupervise(program: Command, io: CliIo): void {
  program
    .command('supervise')
    .description(
      "the built-in supervisor (labs, containers, no systemd): keeps the node's HAProxy instances, BIRD and healthd running, restarts them with back-off",
    )
    .addOption(rootOption())
    .option('--node <name>', 'the LB node (for the log)')
    .action(async (opts: { root: string; node?: string }) => {
      const store = openStore(resolve(io.cwd, opts.root));
      const node = opts.node ?? '';
      const sup = new Supervisor({
        layout: store.layout,
        log: (e) => io.stdout(`${JSON.stringify({ time: new Date().toISOString(), node, ...e })}\n`),
      });
      await sup.listen();
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void sup.close().then(resolveStop);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
