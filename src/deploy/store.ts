import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isMissing } from '../errors.ts';
import { fsyncPath, writeAtomic } from '../fs/atomic.ts';
import { fileMode } from '../render/secrets.ts';
import type { NodeLayout, RenderedFile } from '../render/types.ts';
import { DEFAULT_LAYOUT } from '../render/types.ts';
import { OperationError } from './errors.ts';

/**
 * The installed configuration of a node, kept as numbered generations.
 *
 * `<state>/generations/<n>/` holds one complete rendered tree; `<etc>` (`/etc/intentlb`) is a
 * symbolic link to the current one. A new generation is written and fsynced in full under a
 * temporary name, renamed into place, and only then does the link switch, by renaming a new link
 * over the old one. Whenever the process dies, `<etc>` names either the old or the new complete
 * tree, never a mix. `<state>/applied` records the generation the running processes were last
 * brought to, so an apply that died half-way is finished by the next one.
 */
export interface Store {
  readonly root: string;
  readonly layout: NodeLayout;
  readonly generations: string;
}

/** The layout under `--root` (absolute paths with the root as prefix). */
export function rootLayout(root: string): NodeLayout {
  const r = resolve(root);
  if (r === '/') return DEFAULT_LAYOUT;
  return {
    etc: join(r, DEFAULT_LAYOUT.etc),
    run: join(r, DEFAULT_LAYOUT.run),
    state: join(r, DEFAULT_LAYOUT.state),
  };
}

export function openStore(root: string): Store {
  const layout = rootLayout(root);
  return { root: resolve(root), layout, generations: join(layout.state, 'generations') };
}

export class StoreError extends OperationError {}

const GEN = /^\d{6}$/;

/** Generation numbers present, ascending. */
export function listGenerations(store: Store): number[] {
  let names: string[];
  try {
    names = readdirSync(store.generations);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  return names
    .filter((n) => GEN.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

export function generationDir(store: Store, gen: number): string {
  return join(store.generations, String(gen).padStart(6, '0'));
}

/** The generation `<etc>` points to, or null when nothing is installed yet. */
export function currentGeneration(store: Store): number | null {
  let target: string;
  try {
    const st = lstatSync(store.layout.etc);
    if (!st.isSymbolicLink()) {
      throw new StoreError(
        `${store.layout.etc} is a real directory, not intentlb's link to a generation: move it away (intentlb installs ${store.layout.etc} as a link into ${store.generations})`,
      );
    }
    target = readlinkSync(store.layout.etc);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    return null;
  }
  const name = basename(target);
  return GEN.test(name) ? Number(name) : null;
}

/** What the running processes were last brought to (written after a successful apply). */
export interface AppliedRecord {
  generation: number;
  revision: string;
  at: string;
  /** The generation before this one (what `apply --rollback` returns to). */
  previous: number | null;
  /** The site commit this generation came from (`apply --commit`, set by rollout and pull). */
  commit?: string;
  /** The commit of `previous`. */
  previousCommit?: string;
}

/** The commit fields of applied.json (absent when unknown). */
export function commits(
  commit: string | undefined,
  previousCommit: string | undefined,
): { commit?: string; previousCommit?: string } {
  return {
    ...(commit !== undefined && { commit }),
    ...(previousCommit !== undefined && { previousCommit }),
  };
}

export function readApplied(store: Store): AppliedRecord | null {
  try {
    return JSON.parse(readFileSync(join(store.layout.state, 'applied.json'), 'utf8')) as AppliedRecord;
  } catch (err) {
    // Never applied; a record cut short counts as none (the next apply converges everything).
    if (isMissing(err) || err instanceof SyntaxError) return null;
    throw err;
  }
}

export function writeApplied(store: Store, rec: AppliedRecord): void {
  writeAtomic(join(store.layout.state, 'applied.json'), `${JSON.stringify(rec, null, 2)}\n`);
}

/** Every file of a generation (path relative to the tree → content). */
export function readGeneration(store: Store, gen: number | null): Map<string, string> {
  const files = new Map<string, string>();
  if (gen === null) return files;
  const dir = generationDir(store, gen);
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.set(p, readFileSync(join(dir, p), 'utf8'));
    }
  };
  try {
    walk('');
  } catch (err) {
    if (isMissing(err)) return new Map();
    throw err;
  }
  return files;
}

/**
 * Writes a complete new generation (every file fsynced, then the directory renamed into place)
 * and returns its number. Nothing points to it yet.
 */
export function writeGeneration(store: Store, files: readonly RenderedFile[]): number {
  mkdirSync(store.generations, { recursive: true });
  const gens = listGenerations(store);
  const gen = (gens.at(-1) ?? 0) + 1;
  const final = generationDir(store, gen);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const dirs = new Set<string>([tmp]);
  for (const f of files) {
    const p = join(tmp, f.path);
    mkdirSync(dirname(p), { recursive: true });
    dirs.add(dirname(p));
    const fd = openSync(p, 'w', fileMode(f.path));
    try {
      writeFileSync(fd, f.content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  for (const d of dirs) fsyncPath(d);
  renameSync(tmp, final);
  fsyncPath(store.generations);
  return gen;
}

/** Points `<etc>` at a generation, atomically (a new link renamed over the old one). */
export function switchTo(store: Store, gen: number): void {
  const etc = store.layout.etc;
  mkdirSync(dirname(etc), { recursive: true });
  currentGeneration(store); // refuses a real directory in the way
  const tmp = `${etc}.link-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(generationDir(store, gen), tmp);
  renameSync(tmp, etc);
  fsyncPath(dirname(etc));
}

/**
 * Removes leftovers of interrupted writes and all but the newest `keep` generations (never the
 * current or the applied one).
 */
export function prune(store: Store, keep = 5): void {
  let names: string[] = [];
  try {
    names = readdirSync(store.generations);
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  for (const n of names) if (n.includes('.tmp-')) rmSync(join(store.generations, n), { recursive: true });
  const etcParent = dirname(store.layout.etc);
  for (const n of readdirSync(etcParent)) {
    if (n.startsWith(`${basename(store.layout.etc)}.link-`)) rmSync(join(etcParent, n), { force: true });
  }
  const protect = new Set([currentGeneration(store), readApplied(store)?.generation]);
  const gens = listGenerations(store);
  for (const g of gens.slice(0, Math.max(0, gens.length - keep))) {
    if (!protect.has(g)) rmSync(generationDir(store, g), { recursive: true, force: true });
  }
}

/** Directories a node needs at run time (sockets, pid files, server state). */
export function ensureRuntimeDirs(store: Store): void {
  for (const d of [join(store.layout.run, 'haproxy'), join(store.layout.state, 'haproxy')]) {
    mkdirSync(d, { recursive: true });
  }
}

export interface InstalledManifest {
  site: string;
  node: string;
  intent_revision: string;
  instances: { name: string; addresses: string[]; services: string[] }[];
  files: Record<string, string>;
  /** Files not written 0644 (octal text), e.g. certificates and the BIRD configuration. */
  modes?: Record<string, string>;
}

/** The installed manifest (node name, instances and their services), or null. */
export function readManifest(store: Store): InstalledManifest | null {
  try {
    return JSON.parse(readFileSync(join(store.layout.etc, 'manifest.json'), 'utf8')) as InstalledManifest;
  } catch (err) {
    if (isMissing(err) || err instanceof SyntaxError) return null;
    throw err;
  }
}
