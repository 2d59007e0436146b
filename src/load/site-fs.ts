import {
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  lstatSync,
  opendirSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';

/** What a path is, read without following a link at its end. */
export type EntryKind = 'file' | 'dir' | 'link' | 'special';

export interface Entry {
  name: string;
  kind: EntryKind;
}

/** Why a file was not read. */
export type Refusal =
  | { why: 'link' }
  | { why: 'special'; what: string }
  | { why: 'large'; bytes: number }
  | { why: 'unreadable'; detail: string };

/** A file's text; `undefined` when it does not exist. */
export type ReadResult = { text: string } | { refused: Refusal } | undefined;

/**
 * The file access `load` needs. Tests pass an in-memory tree; the CLI passes the disk. Paths are
 * site-relative with `/`. No method follows a symbolic link or opens anything but a regular file
 * or a folder.
 */
export interface SiteFs {
  /** What `path` is, or undefined when it does not exist. A link is `link`, never its target. */
  kind(path: string): EntryKind | undefined;
  /** The text of a regular file of at most `maxBytes` bytes. */
  read(path: string, maxBytes: number): ReadResult;
  /**
   * Entries of a folder (in no particular order), at most `max` + 1 of them: a longer answer
   * than `max` means the folder holds more. [] when it does not exist.
   */
  list(path: string, max: number): Entry[] | { refused: Refusal };
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The site on disk. A file is opened with O_NOFOLLOW (a link at the end fails with ELOOP) and
 * O_NONBLOCK (a FIFO swapped in after the listing does not block), and judged by fstat of the
 * open descriptor, so no check-then-open race lets a link or special file through. On Linux the
 * descriptor's own path (/proc/self/fd) must then be the path asked for, which catches a folder
 * swapped for a link between listing and reading.
 */
export function diskFs(root: string): SiteFs {
  const real = realpathSync(root);
  const full = (path: string): string => join(real, path);
  return {
    kind(path) {
      const st = lstatSync(full(path), { throwIfNoEntry: false });
      return st === undefined ? undefined : kindOf(st);
    },
    read(path, maxBytes) {
      let fd: number;
      try {
        fd = openSync(full(path), OPEN_FLAGS);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        if (code === 'ELOOP') return { refused: { why: 'link' } };
        return { refused: { why: 'unreadable', detail: code ?? String(e) } };
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) {
          const what = st.isDirectory() ? 'a folder' : specialName(st);
          return { refused: { why: 'special', what } };
        }
        if (!isOwnPath(fd, full(path))) return { refused: { why: 'link' } };
        return readAtMost(fd, st.size, maxBytes);
      } catch (e) {
        return { refused: { why: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? String(e) } };
      } finally {
        closeSync(fd);
      }
    },
    list(path, max) {
      const out: Entry[] = [];
      let dir: ReturnType<typeof opendirSync>;
      try {
        dir = opendirSync(full(path));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return out;
        return { refused: { why: 'unreadable', detail: code ?? String(e) } };
      }
      try {
        for (let e = dir.readSync(); e !== null && out.length < max + 1; e = dir.readSync()) {
          out.push({ name: e.name, kind: direntKind(e, () => lstatSync(join(full(path), e.name))) });
        }
      } finally {
        dir.closeSync();
      }
      return out;
    },
  };
}

function readAtMost(fd: number, size: number, maxBytes: number): ReadResult {
  if (size > maxBytes) return { refused: { why: 'large', bytes: size } };
  // The file may grow after fstat: read one byte past the limit to notice.
  const buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let n = 0;
  for (;;) {
    const got = readSync(fd, buf, n, buf.length - n, null);
    if (got === 0) break;
    n += got;
    if (n === buf.length) {
      if (n > maxBytes) return { refused: { why: 'large', bytes: n } };
      break;
    }
  }
  return { text: buf.toString('utf8', 0, n) };
}

let procFd: boolean | undefined;

/** Whether the open descriptor's path is `expected` (true where /proc/self/fd is unavailable). */
function isOwnPath(fd: number, expected: string): boolean {
  if (procFd === false) return true;
  try {
    const actual = readlinkSync(`/proc/self/fd/${fd}`);
    procFd = true;
    return actual === expected;
  } catch {
    procFd = false;
    return true;
  }
}

function kindOf(st: Stats | Dirent): EntryKind {
  if (st.isSymbolicLink()) return 'link';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'special';
}

function direntKind(e: Dirent, stat: () => Stats): EntryKind {
  const known =
    e.isSymbolicLink() ||
    e.isDirectory() ||
    e.isFile() ||
    e.isFIFO() ||
    e.isSocket() ||
    e.isCharacterDevice() ||
    e.isBlockDevice();
  // Some file systems do not say in the listing (DT_UNKNOWN): ask lstat.
  return known ? kindOf(e) : kindOf(stat());
}

function specialName(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Names a kind for messages. */
export function describeKind(kind: EntryKind): string {
  return { file: 'a file', dir: 'a folder', link: 'a symbolic link', special: 'a special file' }[kind];
}

/**
 * An in-memory site: keys are site-relative paths with `/`. `odd` marks paths that stand for a
 * symbolic link or a special file (a FIFO), which a test cannot put in a plain map of texts.
 */
export function memoryFs(
  files: Readonly<Record<string, string>>,
  odd: Readonly<Record<string, 'link' | 'special'>> = {},
): SiteFs {
  const paths = [...Object.keys(files), ...Object.keys(odd)];
  const prefixOf = (path: string): string =>
    path === '' || path === '.' ? '' : `${path.replace(/\/$/, '')}/`;
  return {
    kind(path) {
      if (odd[path] !== undefined) return odd[path];
      if (files[path] !== undefined) return 'file';
      return paths.some((f) => f.startsWith(prefixOf(path))) ? 'dir' : undefined;
    },
    read(path, maxBytes) {
      const kind = odd[path];
      if (kind === 'link') return { refused: { why: 'link' } };
      if (kind === 'special') return { refused: { why: 'special', what: 'a FIFO' } };
      const text = files[path];
      if (text === undefined) return undefined;
      const bytes = Buffer.byteLength(text);
      return bytes > maxBytes ? { refused: { why: 'large', bytes } } : { text };
    },
    list(path, max) {
      const prefix = prefixOf(path);
      const seen = new Map<string, EntryKind>();
      for (const f of paths) {
        if (!f.startsWith(prefix)) continue;
        const rest = f.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash === -1) seen.set(rest, odd[f] ?? 'file');
        else seen.set(rest.slice(0, slash), 'dir');
      }
      return [...seen].slice(0, max + 1).map(([name, kind]) => ({ name, kind }));
    },
  };
}
