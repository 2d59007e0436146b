/**
 * Runs a rollout: writes the archive, playbook, inventory and events callback into a scratch
 * folder, runs `ansible-playbook` once, and folds the events into each node's outcome. Ansible's
 * own output goes to `ansible.log` in that folder (kept when the rollout did not succeed).
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Model } from '../model/index.ts';
import { CALLBACK_NAME, CALLBACK_SOURCE } from './callback.ts';
import { renderInventory } from './inventory.ts';
import { renderPlaybook } from './playbook.ts';
import { foldEvents, type NodeOutcome, type TaskEvent } from './result.ts';
import { writeArchive } from './revision.ts';

export interface RolloutOptions extends PlaybookInput {
  serial: string;
  verify: boolean;
  drain: boolean;
}

export interface RolloutRun {
  outcomes: NodeOutcome[];
  /** ansible-playbook's exit code. */
  code: number;
  /** Ansible's output, kept when the rollout did not succeed. */
  log: string | null;
  ms: number;
}

/** The inventories Ansible itself would read: `$ANSIBLE_INVENTORY` (comma-separated) or /etc/ansible/hosts. */
export function defaultInventories(env: NodeJS.ProcessEnv): string[] {
  const fromEnv = (env.ANSIBLE_INVENTORY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (fromEnv.length > 0) return fromEnv;
  return existsSync('/etc/ansible/hosts') ? ['/etc/ansible/hosts'] : [];
}

/** A playbook run: its events, ansible-playbook's exit code, its scratch folder and log. */
export interface PlaybookRun {
  events: TaskEvent[];
  code: number;
  work: string;
  log: string;
  ms: number;
}

export interface PlaybookInput {
  model: Model;
  siteDir: string;
  revision: string;
  selected: string[];
  inventories: string[];
  env?: NodeJS.ProcessEnv;
  ansiblePlaybook?: string;
}

/**
 * Runs one playbook on the selected nodes with the site archive and revision as extra vars and
 * the events callback enabled. The scratch folder is the caller's to remove.
 */
export async function runPlaybook(o: PlaybookInput, playbookText: string): Promise<PlaybookRun> {
  const t0 = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'intentlb-rollout-'));
  const archive = writeArchive(o.siteDir, o.revision, work);
  const playbook = join(work, 'playbook.yml');
  writeFileSync(playbook, playbookText);
  const inventory = join(work, 'inventory.yml');
  writeFileSync(inventory, renderInventory(o.model));
  const plugins = join(work, 'callback_plugins');
  mkdirSync(plugins);
  writeFileSync(join(plugins, `${CALLBACK_NAME}.py`), CALLBACK_SOURCE);
  const vars = join(work, 'vars.json');
  writeFileSync(
    vars,
    JSON.stringify({
      intentlb_archive_b64: readFileSync(archive).toString('base64'),
      intentlb_revision: o.revision,
    }),
  );
  const events = join(work, 'events.jsonl');
  writeFileSync(events, '');
  const log = join(work, 'ansible.log');

  const all = o.model.site.nodes.map((n) => n.name);
  const args = [
    ...['-i', inventory, ...o.inventories.flatMap((i) => ['-i', i])],
    '--extra-vars',
    `@${vars}`,
    '--forks',
    String(Math.max(5, all.length)),
    ...(o.selected.length < all.length ? ['--limit', o.selected.join(',')] : []),
    playbook,
  ];
  const env = o.env ?? process.env;
  const code = await run(o.ansiblePlaybook ?? 'ansible-playbook', args, log, {
    ...env,
    ANSIBLE_PIPELINING: 'True',
    ANSIBLE_CALLBACK_PLUGINS: plugins,
    ANSIBLE_CALLBACKS_ENABLED: CALLBACK_NAME,
    ANSIBLE_STDOUT_CALLBACK: 'default',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_NOCOLOR: 'True',
    ANSIBLE_LOCALHOST_WARNING: 'False',
    INTENTLB_EVENTS: events,
  });
  const parsed = readFileSync(events, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TaskEvent);
  return { events: parsed, code, work, log, ms: Date.now() - t0 };
}

/** The last lines of Ansible's log, for a message. */
export function logTail(log: string, n = 3): string {
  return readFileSync(log, 'utf8').trim().split('\n').slice(-n).join(' | ');
}

export async function runRollout(o: RolloutOptions): Promise<RolloutRun> {
  const r = await runPlaybook(o, renderPlaybook({ serial: o.serial, verify: o.verify, drain: o.drain }));
  const all = o.model.site.nodes.map((n) => n.name);
  const outcomes = foldEvents(all, o.selected, r.events, o.revision, o.verify);
  const ok = r.code === 0 && outcomes.every((n) => n.state !== 'failed' && n.state !== 'rolled_back');
  if (ok) rmSync(r.work, { recursive: true, force: true });
  else if (r.events.length === 0) {
    // Ansible stopped before any node task (a bad inventory, an unknown host): say so on each node.
    const tail = logTail(r.log);
    for (const n of outcomes)
      if (n.state === 'pending') n.detail = `ansible-playbook exit ${r.code}: ${tail}`;
  }
  return { outcomes, code: r.code, log: ok ? null : r.log, ms: r.ms };
}

function run(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv): Promise<number> {
  writeFileSync(log, `$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const out = openSync(log, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out], env });
    closeSync(out);
    child.on('error', (e) => {
      writeFileSync(log, `${e.message}\n`, { flag: 'a' });
      resolve(127);
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
}
