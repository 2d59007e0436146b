import { type Diagnostic, diag } from '../diagnostics/index.ts';
import { locate } from '../load/index.ts';
import { keyPaths, type Layer } from './merge.ts';

/** A `lock:` entry: the dotted key may not be set in any file below `layer`. */
export interface Lock {
  key: string;
  /** Index of the defaults layer that declared it. */
  layer: number;
}

/**
 * Reports every key set below a lock that the lock covers: the key itself, anything inside it,
 * or a parent written in a way that replaces it.
 */
export function checkLocks(layers: readonly Layer[], locks: readonly Lock[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const lock of locks) {
    const lockFile = layers[lock.layer]!.file;
    for (let i = lock.layer + 1; i < layers.length; i++) {
      const layer = layers[i]!;
      for (const path of keyPaths(layer.data)) {
        const key = path.join('.');
        if (key === lock.key || key.startsWith(`${lock.key}.`)) {
          const at = locate(lockFile, ['lock'], 'key');
          out.push(
            diag('E_LOCKED_KEY', {
              message: `\`${key}\` is locked by ${lockFile.path} and may not be set here`,
              at: locate(layer.file, path, 'key'),
              path: key,
              hint: `remove it, or ask the owners of ${lockFile.path} to change the value there`,
              related: [{ ...at, message: `\`${lock.key}\` is locked here` }],
            }),
          );
          break;
        }
      }
    }
  }
  return out;
}
