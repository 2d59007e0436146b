import { createTwoFilesPatch } from 'diff';
import { printable } from '../render/secrets.ts';
import { classifyInstanceChange, type RuntimeOp } from './haproxy-diff.ts';
import { type NodeFlags, nodeServices } from './services/index.ts';

/** One file that differs between what is installed and what the site generates now. */
export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** Unified diff; certificates and keys are never printed, BGP passwords are masked. */
  diff: string;
}

export type Action =
  | { kind: 'start'; instance: string; reason: string }
  | { kind: 'reload'; instance: string; reason: string }
  | { kind: 'runtime'; instance: string; ops: RuntimeOp[] }
  | { kind: 'stop'; instance: string; reason: string }
  | { kind: 'address-add'; address: string }
  | { kind: 'address-remove'; address: string }
  /** A node service's action (services/: its name and the verb it declares). */
  | { kind: 'service'; service: string; verb: string; reason: string };

export interface Plan {
  files: FileChange[];
  actions: Action[];
}

export interface PlanInput extends NodeFlags {
  /** The tree the site renders to now (path → content). */
  next: ReadonlyMap<string, string>;
  /** The installed generation (what `<etc>` points to). */
  installed: ReadonlyMap<string, string>;
  /** The generation the running processes were last brought to (usually the installed one). */
  applied: ReadonlyMap<string, string>;
  /** Instances running now, or null when unknown (no process control reachable). */
  running: ReadonlySet<string> | null;
  /**
   * Node services whose process runs now (`bird`, `healthd`, ...), or null/absent when unknown.
   * A service this node should run that is not running is started even when no file changed.
   */
  servicesRunning?: ReadonlySet<string> | null;
}

const INSTANCE = /^haproxy\/(.+)\.cfg$/;

/** The verb of a service action that starts its process (it ran not at all) rather than acting. */
export const START = 'start';

function instancesOf(tree: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, text] of tree) {
    const m = INSTANCE.exec(path);
    if (m !== null) out.set(m[1]!, text);
  }
  return out;
}

/** The certificate files an instance's configuration loads (`crt ../certs/x.pem`). */
export function certsOf(config: string): string[] {
  const out = new Set<string>();
  for (const m of config.matchAll(/\bcrt \.\.\/(certs\/\S+)/g)) out.add(m[1]!);
  return [...out].sort();
}

interface ManifestInstance {
  name: string;
  addresses: string[];
}

/** The VIP addresses a tree's manifest puts on `lo` (every instance's). */
export function addressesOf(tree: ReadonlyMap<string, string>): Set<string> {
  const text = tree.get('manifest.json');
  if (text === undefined) return new Set();
  try {
    const m = JSON.parse(text) as { instances?: ManifestInstance[] };
    return new Set((m.instances ?? []).flatMap((i) => i.addresses));
  } catch {
    return new Set(); // a manifest that is not JSON (cut short) holds no addresses
  }
}

/** The manifest's `modes` (files not written 0644) as one comparable line. */
function modesOf(tree: ReadonlyMap<string, string>): string {
  try {
    const m = JSON.parse(tree.get('manifest.json') ?? '{}') as { modes?: Record<string, string> };
    return Object.entries(m.modes ?? {})
      .map(([path, mode]) => `${path} ${mode}`)
      .sort()
      .join(', ');
  } catch {
    return ''; // a manifest that is not JSON: no modes
  }
}

function fileDiff(path: string, before: string | undefined, after: string | undefined): FileChange {
  const change = before === undefined ? 'added' : after === undefined ? 'removed' : 'changed';
  const header = `--- a/${path}\n+++ b/${path}\n`;
  const a = before === undefined ? '' : printable(path, before);
  const b = after === undefined ? '' : printable(path, after);
  if (a === undefined || b === undefined)
    return { path, change, diff: `${header}(certificate and key ${change}; content not shown)\n` };
  // Only masked secrets differ: say so, without a diff that would show nothing.
  if (a === b) return { path, change, diff: `${header}(secret values ${change}; not shown)\n` };
  const diff = createTwoFilesPatch(`a/${path}`, `b/${path}`, a, b, '', '', { context: 3 })
    .split('\n')
    .slice(1) // the "===" line
    .join('\n');
  return { path, change, diff };
}

/**
 * What converging the node takes. Files are compared with the installed generation; actions with
 * the applied one (they differ only when an apply died half-way: then its work is redone).
 */
export function computePlan(input: PlanInput): Plan {
  const { next, installed, applied, running } = input;
  const files: FileChange[] = [];
  const paths = [...new Set([...next.keys(), ...installed.keys()])].sort();
  for (const p of paths) {
    if (p === 'manifest.json') continue; // its content is every other file's hash
    const a = installed.get(p);
    const b = next.get(p);
    if (a !== b) files.push(fileDiff(p, a, b));
  }
  // A generation installed before files had modes has its secrets world-readable: write anew.
  const modes = modesOf(next);
  if (installed.size > 0 && modes !== modesOf(installed)) {
    files.push({
      path: 'manifest.json',
      change: 'changed',
      diff: `--- a/manifest.json\n+++ b/manifest.json\n(file modes changed: ${modes || 'none'})\n`,
    });
  }

  const actions: Action[] = [];
  const before = instancesOf(applied);
  const after = instancesOf(next);
  const newAddresses = addressesOf(next);
  const oldAddresses = addressesOf(applied);
  if (input.manageAddresses) {
    for (const a of [...newAddresses].sort())
      if (!oldAddresses.has(a)) actions.push({ kind: 'address-add', address: a });
  }
  for (const [name, text] of after) {
    const old = before.get(name);
    const isRunning = running === null || running.has(name);
    if (old === undefined) {
      actions.push({ kind: 'start', instance: name, reason: 'new instance' });
      continue;
    }
    if (!isRunning) {
      actions.push({ kind: 'start', instance: name, reason: 'not running' });
      continue;
    }
    const certChanged = certsOf(text).filter((c) => applied.get(c) !== next.get(c));
    if (certChanged.length > 0) {
      actions.push({ kind: 'reload', instance: name, reason: `${certChanged.join(', ')} changed` });
      continue;
    }
    const change = classifyInstanceChange(old, text);
    if (change.kind === 'reload') actions.push({ kind: 'reload', instance: name, reason: change.reason });
    else if (change.kind === 'runtime') actions.push({ kind: 'runtime', instance: name, ops: change.ops });
  }
  for (const name of before.keys()) {
    if (!after.has(name)) actions.push({ kind: 'stop', instance: name, reason: 'instance removed' });
  }
  if (input.manageAddresses) {
    for (const a of [...oldAddresses].sort())
      if (!newAddresses.has(a)) actions.push({ kind: 'address-remove', address: a });
  }
  for (const s of nodeServices()) {
    if (!s.applies(input)) continue;
    const changed = s.files.filter((p) => next.has(p) && applied.get(p) !== next.get(p));
    if (changed.length > 0) {
      const reason = changed.map((p) => `${p} ${applied.has(p) ? 'changed' : 'added'}`).join(', ');
      actions.push({ kind: 'service', service: s.name, verb: s.verb, reason });
    } else if (
      s.unit !== undefined &&
      input.servicesRunning != null &&
      !input.servicesRunning.has(s.name) &&
      s.files.some((p) => next.has(p))
    ) {
      // Its files are in place but its process is gone (stopped by hand, failed for good):
      // converging the node starts it again.
      actions.push({ kind: 'service', service: s.name, verb: START, reason: 'not running' });
    }
  }
  return { files, actions };
}

/** One line per action, for people. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'start':
    case 'reload':
    case 'stop':
      return `${a.kind.padEnd(8)} haproxy@${a.instance}  (${a.reason})`;
    case 'runtime':
      return `runtime  haproxy@${a.instance}  (no reload: ${a.ops.length} runtime API change${a.ops.length === 1 ? '' : 's'})`;
    case 'address-add':
      return `address  + ${a.address} on lo`;
    case 'address-remove':
      return `address  - ${a.address} from lo`;
    case 'service':
      return `${a.verb.padEnd(8)} ${a.service}  (${a.reason})`;
  }
}
