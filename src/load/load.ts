import { type Diagnostic, diag, type Result } from '../diagnostics/index.ts';
import { NAME_LIMITS, NAME_RULE, nameProblem } from '../vocabulary/names.ts';
import { LOAD_LIMITS, type LoadLimits } from './limits.ts';
import { describeKind, type Entry, type Refusal, type SiteFs } from './site-fs.ts';
import { parseSource, type SourceFile } from './source-file.ts';

/** A PEM bundle found in the site's certificate folder. */
export interface CertFile {
  /** Site-relative path. */
  path: string;
  pem: string;
}

/** Everything read from a site folder. Only this stage touches files. */
export interface LoadedSite {
  site: SourceFile | undefined;
  inventory: SourceFile | undefined;
  dns: SourceFile | undefined;
  /** `services/**\/defaults.yaml`, keyed by folder relative to services/ ('' for the root). */
  defaults: Map<string, SourceFile>;
  /** Every other `services/**\/*.yaml`, sorted by path. */
  services: SourceFile[];
  certs: CertFile[];
  /** Site-relative path -> text, for code frames. */
  sources: Map<string, string>;
  /**
   * Files and folders the loader refused (links, special files, bad names, past a limit), each
   * reported. A refused file is also there as a file that did not parse (`ok: false`), so the
   * stages after load skip it; no model is made while anything was refused.
   */
  refused: string[];
}

const SERVICES = 'services';
const YAML = /\.ya?ml$/;

/**
 * Reads the intent tree. Syntax errors are reported per file; loading goes on with the others.
 * Only regular files and folders are read, never through a link; names below services/ must
 * follow the name grammar; `limits` bound what one site may make the compiler read.
 */
export function load(fs: SiteFs, limits: LoadLimits = LOAD_LIMITS): Result<LoadedSite> {
  const r = new SiteReader(fs, limits);
  const site = r.readFile('site.yaml');
  if (!site) {
    r.diagnostics.push(
      diag('E_MISSING_FILE', {
        message: 'site.yaml is missing',
        at: { file: 'site.yaml', line: 1, column: 1 },
        hint: 'is this the site folder? it must hold site.yaml, inventory.yaml and services/',
      }),
    );
  }
  const inventory = r.readEither('inventory');
  const dns = r.readEither('dns');
  const defaults = new Map<string, SourceFile>();
  const services: SourceFile[] = [];
  if (r.isFolder(SERVICES)) r.walk(SERVICES, '', defaults, services);
  const certs = r.readCerts(certFolder(site));
  const value = { site, inventory, dns, defaults, services, certs, sources: r.sources, refused: r.refused };
  return { value, diagnostics: r.diagnostics };
}

class SiteReader {
  readonly diagnostics: Diagnostic[] = [];
  readonly sources = new Map<string, string>();
  readonly refused: string[] = [];
  private entries = 0;
  private bytes = 0;
  /** Set once a site-wide limit is crossed: nothing more is read. */
  private stopped = false;

  constructor(
    private readonly fs: SiteFs,
    private readonly limits: LoadLimits,
  ) {}

  /** Parses one file; a file that cannot be read is reported and stands as one that did not parse. */
  readFile(path: string): SourceFile | undefined {
    const text = this.readText(path);
    if (text === undefined) return undefined;
    if (typeof text !== 'string') return unparsed(path);
    this.sources.set(path, text);
    const r = parseSource(path, text, this.limits.depth);
    this.diagnostics.push(...r.diagnostics);
    return r.file;
  }

  /** `<stem>.yaml`, or `<stem>.yml` when there is no `.yaml`; both at once is an error. */
  readEither(stem: string): SourceFile | undefined {
    const yaml = `${stem}.yaml`;
    const yml = `${stem}.yml`;
    const hasYaml = this.fs.kind(yaml) !== undefined;
    if (hasYaml && this.fs.kind(yml) !== undefined) this.duplicate(yml, yaml);
    return hasYaml ? this.readFile(yaml) : this.readFile(yml);
  }

  /** Whether `path` is a folder to read; a link or special file there is reported. */
  isFolder(path: string): boolean {
    const kind = this.fs.kind(path);
    if (kind === undefined) return false;
    if (kind === 'dir') return true;
    this.refuse(path, `${path} is ${describeKind(kind)}, not a folder`, 'E_FILE', HINTS.notFolder);
    return false;
  }

  /** Reads the services below `dir`; `folder` is its path relative to services/. */
  walk(dir: string, folder: string, defaults: Map<string, SourceFile>, services: SourceFile[]): void {
    const entries = this.list(dir);
    const names = new Set(entries.map((e) => e.name));
    for (const e of entries) {
      if (this.stopped) return;
      if (e.name.startsWith('.')) continue;
      const path = `${dir}/${e.name}`;
      const id = folder === '' ? e.name : `${folder}/${e.name}`;
      if (e.kind === 'link' || e.kind === 'special') {
        this.refuse(path, `${path} is ${describeKind(e.kind)}`, 'E_FILE', HINTS[e.kind]);
      } else if (e.kind === 'dir') {
        if (this.checkName(path, e.name, id, true)) this.walk(path, id, defaults, services);
      } else if (YAML.test(e.name)) {
        const stem = e.name.replace(YAML, '');
        if (e.name.endsWith('.yml') && names.has(`${stem}.yaml`)) {
          this.duplicate(path, `${dir}/${stem}.yaml`);
          continue;
        }
        if (!this.checkName(path, stem, id.replace(YAML, ''), false)) continue;
        const file = this.readFile(path);
        if (!file) continue;
        if (stem === 'defaults') defaults.set(folder, file);
        else services.push(file);
      }
    }
  }

  /** The PEM bundles of the certificate folder named in site.yaml. */
  readCerts(certDir: string | undefined): CertFile[] {
    const certs: CertFile[] = [];
    if (certDir === undefined || this.stopped) return certs;
    // Each folder on the way must be a real folder, not a link out of the site.
    const parts = certDir.split('/');
    for (let i = 1; i <= parts.length; i++) if (!this.isFolder(parts.slice(0, i).join('/'))) return certs;
    for (const e of this.list(certDir)) {
      if (this.stopped) break;
      if (e.name.startsWith('.')) continue;
      const path = certDir === '.' ? e.name : `${certDir}/${e.name}`;
      if (e.kind === 'link' || e.kind === 'special') {
        this.refuse(path, `${path} is ${describeKind(e.kind)}`, 'E_FILE', HINTS[e.kind]);
        continue;
      }
      if (e.kind !== 'file' || !e.name.endsWith('.pem')) continue;
      const pem = this.readText(path);
      if (typeof pem === 'string') certs.push({ path, pem });
    }
    return certs;
  }

  /** A folder's entries in name order, counted against the site's limit. */
  private list(dir: string): Entry[] {
    const room = this.limits.entries - this.entries;
    const entries = this.fs.list(dir, room);
    if ('refused' in entries) {
      this.refuse(
        dir,
        `${dir} cannot be read (${describeRefusal(entries.refused)})`,
        'E_FILE',
        HINTS.unreadable,
      );
      return [];
    }
    this.entries += entries.length;
    if (entries.length > room) {
      this.stop(
        dir,
        `more than ${this.limits.entries} files and folders below services/ and in the certificate folder`,
        HINTS.entries,
      );
      return [];
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The text of a file within the limits; a Refusal (already reported) or undefined (missing). */
  private readText(path: string): string | Refusal | undefined {
    if (this.stopped) return { why: 'unreadable', detail: 'a site limit was reached' };
    const r = this.fs.read(path, this.limits.fileBytes);
    if (r === undefined) return undefined;
    if ('refused' in r) {
      const { why } = r.refused;
      if (why === 'large') {
        this.refuse(
          path,
          `${path} is larger than ${this.limits.fileBytes} bytes (${r.refused.bytes})`,
          'E_LIMIT',
          HINTS.large,
        );
      } else if (why === 'link') {
        this.refuse(path, `${path} is a symbolic link`, 'E_FILE', HINTS.link);
      } else if (why === 'special') {
        this.refuse(path, `${path} is ${r.refused.what}, not a regular file`, 'E_FILE', HINTS.special);
      } else {
        this.refuse(path, `${path} cannot be read (${r.refused.detail})`, 'E_FILE', HINTS.unreadable);
      }
      return r.refused;
    }
    this.bytes += Buffer.byteLength(r.text);
    if (this.bytes > this.limits.totalBytes) {
      this.stop(path, `the site's files add up to more than ${this.limits.totalBytes} bytes`, HINTS.total);
      return { why: 'large', bytes: this.bytes };
    }
    return r.text;
  }

  /**
   * Whether a file or folder name below services/ is valid and keeps the service ids it makes
   * within their limit; reports it when not. A folder must leave room for `/x` below it, so the
   * id limit also bounds how deep the walk goes.
   */
  private checkName(path: string, name: string, id: string, folder: boolean): boolean {
    const long = (folder ? id.length + 2 : id.length) > NAME_LIMITS.service;
    const problem =
      nameProblem(name, 'segment') ??
      (long
        ? `the service id${folder ? 's below it' : ''} would be longer than ${NAME_LIMITS.service} characters`
        : undefined);
    if (problem === undefined) return true;
    this.refuse(
      path,
      `${path}: ${problem}`,
      'E_NAME',
      long
        ? 'use shorter folder and file names: a service id becomes HAProxy, BIRD and systemd names'
        : `rename it: ${NAME_RULE}`,
    );
    return false;
  }

  private duplicate(second: string, first: string): void {
    this.refused.push(second);
    this.diagnostics.push(
      diag('E_DUPLICATE_FILE', {
        message: `${second} and ${first} are the same file to intentlb`,
        at: { file: second, line: 1, column: 1 },
        hint: 'keep one of them; .yml and .yaml name the same service, defaults or inventory',
        related: [{ file: first, line: 1, column: 1, message: `${first} is read; ${second} is not` }],
      }),
    );
  }

  private refuse(path: string, message: string, code: 'E_FILE' | 'E_LIMIT' | 'E_NAME', hint: string): void {
    this.refused.push(path);
    this.diagnostics.push(diag(code, { message, at: { file: path, line: 1, column: 1 }, hint }));
  }

  /** Reports a site-wide limit and reads nothing more. */
  private stop(path: string, message: string, hint: string): void {
    this.refuse(path, message, 'E_LIMIT', hint);
    this.stopped = true;
  }
}

const HINTS = {
  link: 'intentlb reads only regular files inside the site folder: put the file itself here',
  special: 'intentlb reads only regular files: remove it',
  notFolder: 'intentlb reads only real folders inside the site folder: put the folder itself here',
  unreadable: 'make it readable by the user running intentlb',
  large: 'an intent file is a few hundred bytes: split it, or remove what does not belong',
  entries: 'remove what does not belong to the site, or split the site',
  total: 'remove what does not belong to the site, or split the site',
} as const;

function describeRefusal(r: Refusal): string {
  return r.why === 'unreadable' ? r.detail : r.why;
}

/** A file that was refused: later stages treat it as one that did not parse. */
function unparsed(path: string): SourceFile {
  return { path, text: '', positions: undefined, lineStarts: [0], ok: false, data: {} };
}

function certFolder(site: SourceFile | undefined): string | undefined {
  if (!site?.ok) return undefined;
  const tls = (site.data as { tls?: { certs?: unknown } } | null)?.tls;
  const dir = tls?.certs;
  if (typeof dir !== 'string' || dir.startsWith('/')) return undefined;
  const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) return '.';
  if (parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

/** A service's id: its path below services/ without the extension. */
export function serviceId(file: SourceFile): string {
  return file.path.slice(SERVICES.length + 1).replace(YAML, '');
}
