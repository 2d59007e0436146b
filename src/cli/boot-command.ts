import { resolve } from 'node:path';
import type { Command } from 'commander';
import { bootNode } from '../deploy/boot.ts';
import { openStore } from '../deploy/store.ts';
import type { CliIo } from './io.ts';
import { inInitNetns, rootOption } from './node-common.ts';

export function registerBoot(program: Command, io: CliIo): void {
  program
    .command('boot')
    .description(
      "at boot, before the HAProxy instances (intentlb-boot.service): put the applied generation's VIPs back on lo and load its nftables ruleset; changes nothing else",
    )
    .addOption(rootOption())
    .option('--no-addresses', 'do not add the VIPs on lo')
    .option('--no-firewall', 'do not load the nftables ruleset')
    .action(async (opts: { root: string; addresses: boolean; firewall: boolean }) => {
      const store = openStore(resolve(io.cwd, opts.root));
      const ownsNetwork = store.root === '/' || !inInitNetns();
      const r = await bootNode(store, {
        manageAddresses: opts.addresses && ownsNetwork,
        manageFirewall: opts.firewall && ownsNetwork,
      });
      if (r.generation === null) return io.stdout('boot: no generation applied; nothing to do\n');
      io.stdout(
        `boot: generation ${r.generation}: ${r.addresses.length} VIP address(es) on lo, nftables ${r.firewall ? 'loaded' : 'left alone'}\n`,
      );
    });
}
