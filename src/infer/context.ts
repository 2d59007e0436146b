import type { Diagnostic, Location } from '../diagnostics/index.ts';
import { locate, type PathSegment, type SourceFile } from '../load/index.ts';
import { getPath, type Layer, type Merged } from '../merge/index.ts';
import type { Source } from '../model/index.ts';

/** One service on its way through infer and check: its merged intent and where each key came from. */
export class ServiceScope {
  readonly sources: Record<string, Source> = {};
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly id: string,
    readonly file: SourceFile,
    readonly layers: readonly Layer[],
    readonly merged: Merged,
  ) {
    for (const [path, index] of merged.origin) {
      const layer = layers[index]!;
      const at = locate(layer.file, path.split('.'), 'value');
      this.sources[path] = { kind: 'file', file: at.file, line: at.line, column: at.column };
    }
  }

  get(path: readonly PathSegment[]): unknown {
    return getPath(this.merged.value, path);
  }

  /** Records that `path` was derived by an inference rule. */
  infer(path: string, rule: string, detail: string): void {
    if (!(path in this.sources)) this.sources[path] = { kind: 'rule', rule, detail };
  }

  /**
   * Where a value is written, for diagnostics: the file that set it (or the nearest set ancestor,
   * or the service file). When that is a defaults file, `related` points back at the service.
   */
  where(path: readonly PathSegment[]): { at: Location; related?: (Location & { message: string })[] } {
    for (let n = path.length; n > 0; n--) {
      const key = path.slice(0, n).join('.');
      const index = this.merged.origin.get(key);
      if (index === undefined) continue;
      const layer = this.layers[index]!;
      // Lists are written whole in one layer: point into the list at the element itself.
      const at =
        n === path.length || typeof path[n] === 'number'
          ? locate(layer.file, path, 'value')
          : locate(layer.file, path.slice(0, n), 'key');
      if (layer.file === this.file) return { at };
      return {
        at,
        related: [{ file: this.file.path, line: 1, column: 1, message: `inherited by service ${this.id}` }],
      };
    }
    return { at: { file: this.file.path, line: 1, column: 1 } };
  }
}
