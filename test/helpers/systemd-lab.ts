/**
 * A lab whose lb1 runs under a booted systemd: `lab up --no-deploy`, then the Debian rootfs
 * (systemd-container.ts) booted in lb1's namespace with the site copied in at `siteIn`. Shared by
 * the anycast and the VRRP proofs in test/interop/. Fields are set as the set-up goes, so `close`
 * removes whatever was made, also after an `up` that failed half-way.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import { BIN, REPO } from '../../src/runtime/paths.ts';
import { cleanupLab, cli } from '../lab/lab-client.ts';
import { intentlbBinds, nodeRootfs, SystemdNode } from './systemd-container.ts';

export interface SystemdLabOptions {
  /** The site folder `lab up` runs and the container gets. */
  site: string;
  prefix: string;
  /** Where the site lives inside the container (apply reads it there). */
  siteIn: string;
}

export class SystemdLab {
  state: LabState | undefined;
  node: SystemdNode | undefined;
  /** The overlay and anything else of the test's own; removed by `close`. */
  work = '';
  /** Set-up and test timings, printed by `close`. */
  readonly timings: Record<string, number> = {};
  readonly dir: string;
  readonly #t0 = Date.now();

  constructor(readonly o: SystemdLabOptions) {
    this.dir = defaultLabDir(o.prefix);
  }

  /** A lab host's namespace. */
  ns(host: string): string {
    return this.state!.topology.hosts.find((h) => h.name === host)!.ns;
  }

  async up(): Promise<void> {
    let t = Date.now();
    const rootfs = nodeRootfs();
    this.timings.rootfsMs = Date.now() - t;
    // The launcher runs the bundle when it is newer than every source file, by mtime: a bundle
    // copied over a checkout would look new and run old code. Bundle this checkout (~0.5 s).
    const b = spawnSync(process.execPath, [join(REPO, 'scripts/bundle.mjs')], { encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    await cleanupLab(this.o.prefix, this.dir);
    const up = await cli(['lab', 'up', this.o.site, '--no-deploy', '--prefix', this.o.prefix]);
    assert.equal(up.code, 0, up.stderr);
    this.state = readState(this.dir)!;
    this.work = mkdtempSync(`/tmp/${this.o.prefix}node-`);
    this.node = new SystemdNode(rootfs, this.work, this.ns('lb1'), intentlbBinds());
    t = Date.now();
    await this.node.boot();
    this.timings.bootMs = Date.now() - t;
    mkdirSync(join(this.node.merged, 'srv'), { recursive: true });
    cpSync(this.o.site, join(this.node.merged, this.o.siteIn.slice(1)), { recursive: true });
  }

  /** `intentlb apply` inside the container, as root with systemd as PID 1; its output. */
  async apply(): Promise<string> {
    const r = await this.node!.exec(
      [process.execPath, BIN, 'apply', this.o.siteIn, '--node', 'lb1', '--yes'],
      180_000,
    );
    assert.equal(r.code, 0, `apply failed:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** Powers the container off, removes the test's files and the lab; prints the timings. */
  async close(): Promise<void> {
    try {
      await this.node?.close();
    } finally {
      if (this.work !== '') rmSync(this.work, { recursive: true, force: true });
      await cleanupLab(this.o.prefix, this.dir);
      this.timings.wholeMs = Date.now() - this.#t0;
      console.log(`timings: ${JSON.stringify(this.timings)}`);
    }
  }
}
