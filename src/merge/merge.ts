import type { PathSegment, SourceFile } from '../load/index.ts';

/** A plain YAML map value. */
export type Tree = { [key: string]: unknown };

/** One level of the inheritance chain: a defaults file or the service file itself. */
export interface Layer {
  file: SourceFile;
  /** The validated data of the file, without `lock`. */
  data: Tree;
}

/** The effective value and, for every key path that is set, the layer that set it. */
export interface Merged {
  value: Tree;
  /** Dotted key path -> index into the layers. Maps and leaves both have an entry. */
  origin: Map<string, number>;
}

export function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The merge rule of the intent tree: maps merge key by key, everything else (scalars and lists)
 * is replaced by the later value. Associative when the layers agree on which keys hold maps (the
 * schema fixes each key's type, so validated layers do); a scalar replacing a map in a middle layer
 * breaks it, and then only the left-to-right fold of `mergeLayers` is the meaning.
 */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isTree(base) || !isTree(over)) return over;
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeValues(base[k], v);
  return out;
}

/** Folds the layers in order (root defaults first, service file last), recording provenance. */
export function mergeLayers(layers: readonly Layer[]): Merged {
  return layers.reduce<Merged>((merged, layer, index) => mergeLayer(merged, layer.data, index), {
    value: {},
    origin: new Map(),
  });
}

/**
 * One step of `mergeLayers`: `data`, the layer at `index`, over what the layers before it merged
 * to. The defaults above a folder are merged once, and each service of the folder onto them.
 */
export function mergeLayer(base: Merged, data: Tree, index: number): Merged {
  const origin = new Map(base.origin);
  setOrigins(origin, data, undefined, index);
  return { value: mergeValues(base.value, data) as Tree, origin };
}

/** `origin.set(path.join('.'), index)` for every one of `keyPaths(tree)`, without the arrays. */
function setOrigins(
  origin: Map<string, number>,
  tree: Tree,
  prefix: string | undefined,
  index: number,
): void {
  for (const key of Object.keys(tree)) {
    const path = prefix === undefined ? key : `${prefix}.${key}`;
    origin.set(path, index);
    const v = tree[key];
    if (isTree(v)) setOrigins(origin, v, path, index);
  }
}

/** Every key path set in a tree: each map key, recursing into maps but not into lists. */
export function keyPaths(tree: Tree, prefix: PathSegment[] = []): PathSegment[][] {
  const out: PathSegment[][] = [];
  for (const [k, v] of Object.entries(tree)) {
    const p = [...prefix, k];
    out.push(p);
    if (isTree(v)) out.push(...keyPaths(v, p));
  }
  return out;
}

/** Leaf key paths only (values that are not maps). */
export function leafPaths(tree: Tree, prefix: PathSegment[] = []): PathSegment[][] {
  return keyPaths(tree, prefix).filter((p) => !isTree(getPath(tree, p.slice(prefix.length))));
}

export function getPath(tree: unknown, path: readonly PathSegment[]): unknown {
  let v = tree;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PathSegment, unknown>)[seg];
  }
  return v;
}
