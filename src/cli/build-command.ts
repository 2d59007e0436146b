import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildSite, renderBuild } from '../build/build.ts';
import { visible } from '../diagnostics/index.ts';
import { SITE_DIR } from '../render/site.ts';
import type { CliIo } from './io.ts';
import { compileSite, report } from './site-input.ts';

/** `intentlb build <site> --out <dir>`: check, render every node, validate with the real tools, write. */
export function registerBuild(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('build')
    .description(
      "check the site, then write every node's files to <dir>/<node>/ and the site's monitoring to <dir>/_site/, validated by the real tools",
    )
    .argument('<site>', 'the site folder')
    .requiredOption('--out <dir>', 'output folder')
    .option('--no-validate', 'skip validation with haproxy/bird/nft/keepalived/icinga2/promtool')
    .action(async (site: string, opts: { out: string; validate: boolean }) => {
      const run = await compileSite(site, io);
      const errors = report(run, io);
      if (errors || !run.model) {
        io.stderr('build: nothing written\n');
        setExit(1);
        return;
      }
      const nodes = renderBuild(run.model, run.loaded.sources, run.loaded.certs);
      const out = resolve(io.cwd, opts.out);
      const r = await buildSite(nodes, out, { validate: opts.validate });
      for (const x of r.rejections)
        io.stderr(
          `${visible(`${x.node}/${x.path}`)}: rejected by ${x.tool}:\n${visible(x.output, { multiline: true })}\n\n`,
        );
      if (r.rejections.length > 0) {
        io.stderr(`build: ${r.rejections.length} file(s) rejected; nothing written\n`);
        setExit(1);
        return;
      }
      for (const t of r.skipped) io.stderr(`warning: ${t} is not installed; its files were not validated\n`);
      const files = nodes.reduce((n, x) => n + x.files.length, 0);
      io.stdout(
        `${visible(run.model.site.name)}: ${nodes.length - 1} node(s) and ${SITE_DIR}/ (monitoring), ${run.model.instances.length} HAProxy instance(s), ${files} files written to ${opts.out}` +
          (opts.validate ? ` (${r.validated} validated)` : '') +
          '\n',
      );
    });
}
