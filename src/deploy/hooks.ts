import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMissing } from '../errors.ts';
import type { NodeLayout } from '../render/types.ts';
import { socketAnswers } from '../runtime/socket-answers.ts';
import type { ProcessControl } from './control.ts';
import { ActionError } from './errors.ts';
import type { Action } from './plan.ts';
import { healthdSocket, runsHealthd } from './services/index.ts';

export type InstanceAction = Extract<Action, { instance: string }>;

/**
 * What runs around each instance change. The node hooks ask healthd to withdraw a VIP before a
 * disruptive change (the instance stops) and run the operator's own executables.
 */
export interface Hooks {
  before(a: InstanceAction): Promise<void>;
  after(a: InstanceAction, ok: boolean): Promise<void>;
  /** healthd.yaml changed: healthd re-reads it, or starts (its systemd unit, or under the supervisor). */
  healthdConfigChanged(): Promise<void>;
  /**
   * BIRD is about to re-read its configuration: healthd reads the generation just installed, and
   * with it writes BIRD's VIP state file for the new VIPs. False when no healthd answered.
   */
  beforeBirdConfigure(): Promise<boolean>;
  /** BIRD re-read its configuration: healthd reconciles, should BIRD disagree with it. */
  birdReconfigured(): Promise<void>;
}

/** Sends one request to healthd's control socket; resolves with its JSON answer. */
export type HealthdRequest = (socket: string, command: string, args: string[]) => Promise<void>;

/** Changes that interrupt an instance's service: healthd withdraws its VIP first. */
const DISRUPTIVE = new Set(['stop']);

export interface NodeHooksOptions {
  layout: NodeLayout;
  control: ProcessControl;
  log: (line: string) => void;
  /** Operator executables, run in name order: `<dir>/<exe> before|after <action> <instance> [ok|failed]`. */
  hookDir: string;
  healthd: HealthdRequest;
  /** Whether the site runs BIRD (anycast). */
  anycast: boolean;
  /** Whether the node runs healthd (anycast, script failover); absent: as `anycast`. */
  runsHealthd?: boolean;
  timeoutMs?: number;
}

export function nodeHooks(o: NodeHooksOptions): Hooks {
  const socket = healthdSocket(o.layout);
  const run = (args: string[]): Promise<void> => runHookDir(o.hookDir, args, o.timeoutMs ?? 10_000, o.log);
  const healthd = runsHealthd(o);
  return {
    async before(a) {
      if (DISRUPTIVE.has(a.kind) && healthd && (await socketAnswers(socket))) {
        o.log(`  healthd: withdraw ${a.instance} before it stops`);
        await o.healthd(socket, 'hold', [a.instance]);
      }
      await run(['before', a.kind, a.instance]);
    },
    async after(a, ok) {
      await run(['after', a.kind, a.instance, ok ? 'ok' : 'failed']);
    },
    async beforeBirdConfigure() {
      if (!o.anycast || !(await socketAnswers(socket))) return false;
      // Before the configure: the state file BIRD is about to read must define a constant for each
      // new VIP's protocols, and healthd writes it as it takes in the new VIPs. A VIP removed from
      // BIRD's configuration is gone from healthd's too, or BIRD would refuse the reconcile for its
      // missing protocol (test/interop/systemd-node.test.ts). healthd's own `reload` action later
      // finds nothing changed.
      await o.healthd(socket, 'reload', []);
      return true;
    },
    async birdReconfigured() {
      if (!o.anycast || !(await socketAnswers(socket))) return;
      await o.healthd(socket, 'reconcile', []);
    },
    async healthdConfigChanged() {
      if (!healthd) return;
      if (await socketAnswers(socket)) {
        await o.healthd(socket, 'reload', []);
      } else {
        // Under systemd, intentlb-healthd.service (enabled by the start); else the supervisor.
        await o.control.start('healthd');
      }
    },
  };
}

/** Runs every executable of a directory with the arguments; a failing `before` hook throws. */
export async function runHookDir(
  dir: string,
  args: string[],
  timeoutMs: number,
  log: (l: string) => void,
): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    if (isMissing(err)) return; // no hook folder: no hooks
    throw err;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue; // like run-parts: a file that is not executable is not a hook
    }
    const result = await new Promise<{ ok: boolean; output: string }>((done) => {
      execFile(path, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) =>
        done({ ok: err === null, output: `${stdout}${stderr}`.trim() }),
      );
    });
    if (result.output !== '') log(`  hook ${name}: ${result.output}`);
    if (!result.ok) {
      const msg = `hook ${path} ${args.join(' ')} failed${result.output === '' ? '' : `: ${result.output}`}`;
      if (args[0] === 'before') throw new ActionError(msg);
      log(`  warning: ${msg}`);
    }
  }
}
