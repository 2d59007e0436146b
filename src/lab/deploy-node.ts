/**
 * Deploys one LB node of the lab the real way, inside the node's namespace:
 *
 * 1. `node <repo>/bin/intentlb.mjs supervise --root <R> --node <n>` — started once, detached,
 *    logging to the lab folder (JSON lines); it is ready once it logs `"event":"listening"` (its
 *    control socket under R accepts apply's requests).
 * 2. `node <repo>/bin/intentlb.mjs apply <site> --node <n> --root <R> --yes` — renders, validates
 *    and installs under R, puts the node's VIPs on `lo`, starts or reloads the instances through
 *    the supervisor; exit 0 once every instance serves.
 *
 * This is the one place that knows the deploy commands' contract.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, REPO } from '../runtime/paths.ts';
import { LabError } from './errors.ts';
import { runIn } from './netns.ts';
import { isAlive, type LabProcess, type SpawnSpec, tail, waitForLog } from './processes.ts';

/** Everything one node's deployment needs. */
export interface NodeDeployment {
  node: string;
  ns: string;
  /** The node's install root (`--root`). */
  root: string;
  /** The site folder, absolute. */
  site: string;
  /** Where its logs go. */
  logDir: string;
  /** The node's supervisor when one already runs (`lab apply`). */
  supervisor: LabProcess | undefined;
  /** Starts and records a long-running process. */
  spawn(spec: SpawnSpec): LabProcess;
}

/** Deploys one node; returns its supervisor. Throws with the command's output when a step fails. */
export type DeployNode = (d: NodeDeployment) => Promise<LabProcess>;

const SUPERVISOR_READY_MS = 15_000;
const APPLY_TIMEOUT_MS = 120_000;

export const deployNode: DeployNode = async (d) => {
  mkdirSync(d.root, { recursive: true });
  let supervisor = d.supervisor;
  if (supervisor === undefined || !isAlive(supervisor)) {
    supervisor = d.spawn({
      kind: 'supervise',
      host: d.node,
      ns: d.ns,
      command: [process.execPath, BIN, 'supervise', '--root', d.root, '--node', d.node],
      log: join(d.logDir, `${d.node}-supervise.log`),
      cwd: REPO,
    });
    await waitForLog(
      supervisor,
      (text) => text.includes('"event":"listening"'),
      SUPERVISOR_READY_MS,
      `the supervisor of ${d.node}`,
    );
  }
  const log = join(d.logDir, `${d.node}-apply.log`);
  const args = [BIN, 'apply', d.site, '--node', d.node, '--root', d.root, '--yes'];
  const r = await runIn(d.ns, [process.execPath, ...args], APPLY_TIMEOUT_MS, REPO);
  appendFileSync(log, `$ intentlb ${args.slice(1).join(' ')}\n${r.output}\n(exit ${r.code})\n`);
  if (r.code !== 0) {
    throw new LabError(
      `intentlb apply on ${d.node} failed (exit ${r.code}; log ${log}):\n${tail(r.output, 20)}`,
    );
  }
  return supervisor;
};
