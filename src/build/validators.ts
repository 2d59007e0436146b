import { join } from 'node:path';
import { findTool, pool, runTool } from './run-tool.ts';
import {
  validateBird,
  validateIcinga,
  validateKeepalived,
  validateNft,
  validatePrometheus,
} from './validate-tools.ts';

/** A generated file the tool rejected, with what the tool said. */
export interface FileRejection {
  path: string;
  output: string;
}

/** How one kind of generated file is checked with its real tool. */
export interface Validator {
  tool: string;
  /** Groups a node's generated paths (node-relative) into units checked by one run each. */
  units(paths: readonly string[]): string[][];
  /** Checks one unit inside the scratch node folder; returns the rejected files (empty: all pass). */
  validate(unit: readonly string[], nodeDir: string, concurrency: number): Promise<FileRejection[]>;
}

/** One run per file for tools whose files stand alone. */
export function perFile(
  tool: string,
  pattern: RegExp,
  check: (abs: string) => Promise<{ ok: boolean; output: string }>,
): Validator {
  return {
    tool,
    units: (paths) => paths.filter((p) => pattern.test(p)).map((p) => [p]),
    async validate(unit, nodeDir) {
      const out: FileRejection[] = [];
      for (const p of unit) {
        const r = await check(join(nodeDir, p));
        if (!r.ok) out.push({ path: p, output: r.output });
      }
      return out;
    },
  };
}

/**
 * HAProxy: all instance files of a node in ONE `haproxy -c -f <dir>` (HAProxy loads a folder as
 * one configuration; proxy names are unique per instance by construction), because each run costs
 * ~35 ms of start-up. Only when that fails are the files checked one by one, to say which.
 */
const haproxy: Validator = {
  tool: 'haproxy',
  units: (paths) => {
    const cfgs = paths.filter((p) => /^haproxy\/[^/]+\.cfg$/.test(p));
    return cfgs.length > 0 ? [cfgs] : [];
  },
  async validate(unit, nodeDir, concurrency) {
    const bin = findTool('haproxy')!;
    // A few files (apply after a small change): one run each, in parallel, is quicker than the folder.
    if (unit.length <= concurrency) {
      const each = await pool(unit, concurrency, async (p) => ({
        p,
        r: await runTool(bin, ['-c', '-q', '-f', join(nodeDir, p)]),
      }));
      return each.filter((x) => !x.r.ok).map((x) => ({ path: x.p, output: x.r.output }));
    }
    const all = await runTool(bin, ['-c', '-q', '-f', join(nodeDir, 'haproxy')]);
    if (all.ok) return [];
    const each = await pool(unit, concurrency, async (p) => ({
      p,
      r: await runTool(bin, ['-c', '-q', '-f', join(nodeDir, p)]),
    }));
    const rejected = each.filter((x) => !x.r.ok).map((x) => ({ path: x.p, output: x.r.output }));
    return rejected.length > 0 ? rejected : [{ path: 'haproxy/', output: all.output }];
  },
};

/**
 * Icinga 2: every `icinga2/*.conf` of a folder in ONE `icinga2 daemon -C` — the site's hosts
 * refer to the commands and zones of its other files, as they do on the master.
 */
const icinga2: Validator = {
  tool: 'icinga2',
  units: (paths) => {
    const confs = paths.filter((p) => /^icinga2\/[^/]+\.conf$/.test(p));
    return confs.length > 0 ? [confs] : [];
  },
  async validate(unit, nodeDir) {
    const r = await validateIcinga(unit.map((p) => join(nodeDir, p)));
    return r.ok ? [] : [{ path: unit.length === 1 ? unit[0]! : 'icinga2/', output: r.output }];
  },
};

const validators: Validator[] = [
  haproxy,
  // bird/vip-state.conf is part of intentlb.conf (an include), checked with it.
  perFile('bird', /^bird\/(?!vip-state\.conf$)[^/]+\.conf$/, validateBird),
  perFile('nft', /^nftables\/[^/]+\.nft$/, validateNft),
  perFile('keepalived', /^keepalived\/keepalived\.conf$/, validateKeepalived),
  icinga2,
  perFile('promtool', /^prometheus\/prometheus\.yml$/, validatePrometheus),
];

export function allValidators(): readonly Validator[] {
  return validators;
}
