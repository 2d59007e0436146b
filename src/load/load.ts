import { type Diagnostic, diag, type Result } from '../diagnostics/index.ts';
import type { SiteFs } from './site-fs.ts';
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
}

const SERVICES = 'services';

/** Reads the intent tree. Syntax errors are reported per file; loading goes on with the others. */
export function load(fs: SiteFs): Result<LoadedSite> {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const read = (path: string): SourceFile | undefined => {
    const text = fs.read(path);
    if (text === undefined) return undefined;
    sources.set(path, text);
    const r = parseSource(path, text);
    diagnostics.push(...r.diagnostics);
    return r.file;
  };

  const site = read('site.yaml');
  if (!site) {
    diagnostics.push(
      diag('E_MISSING_FILE', {
        message: 'site.yaml is missing',
        at: { file: 'site.yaml', line: 1, column: 1 },
        hint: 'is this the site folder? it must hold site.yaml, inventory.yaml and services/',
      }),
    );
  }
  const inventory = read('inventory.yaml') ?? read('inventory.yml');
  const dns = read('dns.yaml') ?? read('dns.yml');

  const defaults = new Map<string, SourceFile>();
  const services: SourceFile[] = [];
  const walk = (dir: string): void => {
    const entries = fs.list(dir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = `${dir}/${e.name}`;
      if (e.dir) {
        walk(path);
      } else if (/\.ya?ml$/.test(e.name)) {
        const file = read(path);
        if (!file) continue;
        const folder = dir === SERVICES ? '' : dir.slice(SERVICES.length + 1);
        if (/^defaults\.ya?ml$/.test(e.name)) defaults.set(folder, file);
        else services.push(file);
      }
    }
  };
  walk(SERVICES);

  const certs: CertFile[] = [];
  const certDir = certFolder(site);
  if (certDir !== undefined) {
    for (const e of fs.list(certDir).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.dir || !e.name.endsWith('.pem')) continue;
      const path = `${certDir}/${e.name}`;
      const pem = fs.read(path);
      if (pem !== undefined) certs.push({ path, pem });
    }
  }

  return { value: { site, inventory, dns, defaults, services, certs, sources }, diagnostics };
}

function certFolder(site: SourceFile | undefined): string | undefined {
  if (!site?.ok) return undefined;
  const tls = (site.data as { tls?: { certs?: unknown } } | null)?.tls;
  const dir = tls?.certs;
  if (typeof dir !== 'string' || dir.includes('..') || dir.startsWith('/')) return undefined;
  return dir.replace(/\/+$/, '');
}

/** A service's id: its path below services/ without the extension. */
export function serviceId(file: SourceFile): string {
  return file.path.slice(SERVICES.length + 1).replace(/\.ya?ml$/, '');
}
