import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The file access `load` needs. Tests pass an in-memory tree; the CLI passes the disk. */
export interface SiteFs {
  /** Text of a site-relative file, or undefined when it does not exist. */
  read(path: string): string | undefined;
  /** Entries of a site-relative folder (names only), or [] when it does not exist. */
  list(path: string): { name: string; dir: boolean }[];
}

export function diskFs(root: string): SiteFs {
  return {
    read(path) {
      try {
        return readFileSync(join(root, path), 'utf8');
      } catch {
        return undefined;
      }
    },
    list(path) {
      try {
        return readdirSync(join(root, path), { withFileTypes: true }).map((e) => ({
          name: e.name,
          dir: e.isDirectory() || (e.isSymbolicLink() && statSync(join(root, path, e.name)).isDirectory()),
        }));
      } catch {
        return [];
      }
    },
  };
}

/** An in-memory site: keys are site-relative paths with `/`. */
export function memoryFs(files: Readonly<Record<string, string>>): SiteFs {
  return {
    read: (path) => files[path],
    list(path) {
      const prefix = path === '' || path === '.' ? '' : `${path.replace(/\/$/, '')}/`;
      const seen = new Map<string, boolean>();
      for (const f of Object.keys(files)) {
        if (!f.startsWith(prefix)) continue;
        const rest = f.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash === -1) seen.set(rest, false);
        else seen.set(rest.slice(0, slash), true);
      }
      return [...seen].map(([name, dir]) => ({ name, dir }));
    },
  };
}
