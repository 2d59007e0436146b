import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { renderBuild, writeFiles } from '../../src/build/build.ts';
import { pool, runTool } from '../../src/build/run-tool.ts';
import { validateBird, validateIcinga } from '../../src/build/validate-tools.ts';
import { RenderRefusal } from '../../src/render/quote/refusal.ts';
import type { RenderedFile } from '../../src/render/types.ts';
import { compileFiles } from '../helpers/site.ts';
import { requireRoot, requireTool, withTempDir } from '../helpers/tools.ts';

// Hostile strings in every team- or platform-written string that reaches a generated file. For
// each sample, either `check` rejects the site with an error diagnostic, or every generated file
// has exactly the structure of the base site's (same lines by keyword, same words per HAProxy
// line, same string delimiters elsewhere) and the real tools accept it. A RenderRefusal means
// `check` let through something a renderer cannot write: a failure, listed by field.

type Tree = Record<string, unknown>;

const SITE: Tree = {
  site: 'fz',
  nodes: [
    { name: 'lb1', address: '198.18.0.11', address6: '2001:db8::11' },
    { name: 'lb2', address: '198.18.0.12' },
  ],
  ha: {
    mode: 'anycast',
    bgp: { local_as: 65001, peers: [{ name: 'rr1', address: '198.18.0.1', as: 65000 }] },
  },
  tls: { policy: 'intermediate', certs: 'certs' },
  teams: { web: { path: 'web', vip_pools: ['198.18.100.0/24'], ports: [80, 443] } },
  management: { allow: ['198.18.0.0/24'] },
};
const INVENTORY: Tree = { groups: { app: { hosts: { app1: '198.18.10.11', app2: '198.18.10.12' } } } };
const SERVICE: Tree = {
  description: 'd',
  fqdn: 'www.fz.example',
  vip: '198.18.100.10',
  backend: {
    group: 'app',
    port: 8080,
    sticky: 'cookie',
    cookie: 'SRV',
    check: { type: 'http', path: '/h', host: 'h.fz.example', expect: 'ok' },
  },
  routes: [
    { path_prefix: '/api', backend: { servers: [{ name: 's1', address: '198.18.10.21', port: 9000 }] } },
  ],
  redirects: [
    { path_prefix: '/old', to: '/new', keep_path: true },
    { path_prefix: '/abs', to: 'https://t.fz.example/n' },
  ],
  monitoring: { icinga: true, url: '/u', notes: 'n', contacts: ['ops'] },
};
const SERVICE_FILE = 'services/web/www.yaml';

/** A site with one string replaced: `edit` changes the trees (deep copies) or the file names. */
interface Field {
  name: string;
  /** The hostile string wrapped so the value keeps its form (a path starts with `/`, ...). */
  wrap: (h: string) => string;
  edit: (v: string, t: { site: Tree; inventory: Tree; service: Tree; files: { service: string } }) => void;
}

const svc = (f: (s: Tree, v: string) => void) => (v: string, t: { service: Tree }) => f(t.service, v);
const be = (s: Tree) => s.backend as Tree;
const chk = (s: Tree) => be(s).check as Tree;
const mon = (s: Tree) => s.monitoring as Tree;
const redirect = (s: Tree, i: number) => (s.redirects as Tree[])[i]!;
const route = (s: Tree) => (s.routes as Tree[])[0]!;

const FIELDS: Field[] = [
  { name: 'description', wrap: (h) => `d${h}d`, edit: svc((s, v) => (s.description = v)) },
  { name: 'monitoring.notes', wrap: (h) => `n${h}n`, edit: svc((s, v) => (mon(s).notes = v)) },
  { name: 'monitoring.url', wrap: (h) => `/u${h}z`, edit: svc((s, v) => (mon(s).url = v)) },
  { name: 'monitoring.contacts', wrap: (h) => `c${h}c`, edit: svc((s, v) => (mon(s).contacts = [v])) },
  { name: 'redirects.to (path)', wrap: (h) => `/n${h}z`, edit: svc((s, v) => (redirect(s, 0).to = v)) },
  {
    name: 'redirects.to (URL)',
    wrap: (h) => `https://t.fz.example/${h}z`,
    edit: svc((s, v) => (redirect(s, 1).to = v)),
  },
  {
    name: 'redirects.path_prefix',
    wrap: (h) => `/o${h}z`,
    edit: svc((s, v) => (redirect(s, 0).path_prefix = v)),
  },
  { name: 'routes.path_prefix', wrap: (h) => `/a${h}z`, edit: svc((s, v) => (route(s).path_prefix = v)) },
  { name: 'check.path', wrap: (h) => `/h${h}z`, edit: svc((s, v) => (chk(s).path = v)) },
  { name: 'check.host', wrap: (h) => `h${h}h.fz.example`, edit: svc((s, v) => (chk(s).host = v)) },
  { name: 'check.expect', wrap: (h) => `o${h}k`, edit: svc((s, v) => (chk(s).expect = v)) },
  { name: 'backend.cookie', wrap: (h) => `C${h}C`, edit: svc((s, v) => (be(s).cookie = v)) },
  { name: 'fqdn', wrap: (h) => `w${h}w.fz.example`, edit: svc((s, v) => (s.fqdn = v)) },
  {
    name: 'server name',
    wrap: (h) => `s${h}s`,
    edit: svc((s, v) => {
      ((route(s).backend as Tree).servers as Tree[])[0]!.name = v;
    }),
  },
  {
    name: 'inventory host name',
    wrap: (h) => `a${h}a`,
    edit: (v, t) => {
      t.inventory.groups = { app: { hosts: { app1: '198.18.10.11', [v]: '198.18.10.12' } } };
    },
  },
  {
    name: 'node name',
    wrap: (h) => `l${h}l`,
    edit: (v, t) => {
      (t.site.nodes as Tree[])[1]!.name = v;
    },
  },
  {
    name: 'BGP peer name',
    wrap: (h) => `r${h}r`,
    edit: (v, t) => {
      (((t.site.ha as Tree).bgp as Tree).peers as Tree[])[0]!.name = v;
    },
  },
  { name: 'site name', wrap: (h) => `f${h}f`, edit: (v, t) => (t.site.site = v) },
  {
    name: 'service id (file name)',
    wrap: (h) => `w${h}w`,
    edit: (v, t) => {
      t.files.service = `services/web/${v}.yaml`;
    },
  },
];

/** One hostile class per entry: tried alone in every field, then mixed by the random samples. */
const PIECES = [
  '\n',
  '\r',
  '\t ',
  '"',
  "'`",
  '#;',
  '{}',
  '%[env(HOME)]%20',
  `\${X}$HOME`,
  '\\n',
  '\0',
  '\x01\x7f',
  '\u0085',
  '\u2028',
  '!(),@:',
  'é',
  '\n    bind 0.0.0.0:1',
  '" , 0.0.0.0 . 22 comment "',
  '"; }\nprotocol static x {',
  'a'.repeat(300),
];

const hostile = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }).map((a) => a.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
);

function siteFiles(field: Field | undefined, h: string): Record<string, string> {
  const t = {
    site: structuredClone(SITE),
    inventory: structuredClone(INVENTORY),
    service: structuredClone(SERVICE),
    files: { service: SERVICE_FILE },
  };
  if (field !== undefined) field.edit(field.wrap(h), t);
  return {
    'site.yaml': stringify(t.site),
    'inventory.yaml': stringify(t.inventory),
    'dns.yaml': stringify({ 'www.fz.example': '198.18.100.10' }),
    [t.files.service]: stringify(t.service),
  };
}

/** HAProxy's words on a line, unquoted (configuration.txt 2.2): quotes and backslashes join, `#` ends. */
function haproxyWords(line: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
      continue;
    }
    if (c === '#' && word === undefined) break;
    word ??= '';
    if (c === '\\') word += line[++i] ?? '';
    else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return undefined; // an unterminated quote: never the base site's structure
      word += line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      for (i++; i < line.length && line[i] !== '"'; i++) word += line[i] === '\\' ? line[++i] : line[i];
      if (i >= line.length) return undefined;
    } else word += c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The log-format arguments of a line (redirect targets, `set-header` values, `hdr` values of
 * `http-check send`): HAProxy evaluates `%` tags in them.
 */
function logFormatArgs(w: readonly string[]): string[] {
  if (w[0] === 'http-request' && w[1] === 'redirect') return [w[3] ?? ''];
  if (/^http-(request|response)$/.test(w[0] ?? '') && w[1] === 'set-header') return [w[3] ?? ''];
  if (w[0] === 'http-check' && w[1] === 'send')
    return w.flatMap((x, i) => (x === 'hdr' ? [w[i + 2] ?? ''] : []));
  return [];
}

/** A HAProxy line's structure: its word count and the `%` tags of its log-format arguments. */
function haproxyLine(line: string): string {
  const w = haproxyWords(line);
  if (w === undefined) return 'unterminated';
  const tags = logFormatArgs(w).map((a) => a.replace(/%%/g, '').split('%').length - 1);
  return `${w.length}/${tags.join(',')}`;
}

/** Double quotes that delimit strings (backslash escapes skipped). */
function delimiters(line: string): number {
  let n = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '"') n++;
  }
  return n;
}

/** A file's structure: per non-comment line, its indentation, first word and word or quote count. */
function structure(f: RenderedFile): string {
  const dir = f.path.includes('/') ? f.path.slice(0, f.path.indexOf('/')) : f.path;
  if (dir === 'manifest.json') return `${dir}:${JSON.stringify(Object.keys(JSON.parse(f.content)))}`;
  if (dir === 'certs') return dir;
  const lines = f.content
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .map((l) => {
      const indent = l.length - l.trimStart().length;
      const first = l.trim().split(/\s/)[0];
      const count = dir === 'haproxy' ? haproxyLine(l) : delimiters(l);
      return `${indent}|${first}|${count}`;
    })
    .sort();
  return `${dir}\n${lines.join('\n')}`;
}

function shape(nodes: { files: RenderedFile[] }[]): string[][] {
  return nodes.map((n) => n.files.map(structure).sort());
}

/** The site folder's files (`renderBuild` puts it last): every Icinga object of the site. */
function siteOf(nodes: { files: RenderedFile[] }[]): RenderedFile[] {
  return nodes.at(-1)!.files;
}

function icingaChanged(nodes: { files: RenderedFile[] }[], base: { files: RenderedFile[] }[]): boolean {
  const text = (n: { files: RenderedFile[] }[]) =>
    siteOf(n).find((f) => f.path === 'icinga2/hosts.conf')?.content;
  return text(nodes) !== text(base);
}

async function validate(files: RenderedFile[], site: RenderedFile[], icinga: boolean): Promise<string[]> {
  const problems: string[] = [];
  await withTempDir(async (dir) => {
    writeFiles(dir, files);
    const h = await runTool(requireTool('haproxy'), ['-c', '-q', '-f', join(dir, 'haproxy')]);
    if (!h.ok) problems.push(`haproxy -c: ${h.output}`);
    const b = await validateBird(join(dir, 'bird/intentlb.conf'));
    if (!b.ok) problems.push(`bird -p: ${b.output}`);
    // Check mode only: nothing is applied, so no namespace is needed.
    const n = await runTool(requireTool('nft'), ['-c', '-f', join(dir, 'nftables/intentlb.nft')]);
    if (!n.ok) problems.push(`nft -c: ${n.output}`);
    if (icinga) {
      writeFiles(join(dir, '_site'), site);
      const confs = site.filter((f) => f.path.startsWith('icinga2/')).map((f) => join(dir, '_site', f.path));
      const i = await validateIcinga(confs);
      if (!i.ok) problems.push(`icinga2: ${i.output}`);
    }
  });
  return problems;
}

/** Random samples per field besides PIECES; a fixed seed so a failure is reproducible. */
const RUNS = 6;
/** The real tools take 0.1 s (Icinga about 1 s): a few accepted samples per field are enough. */
const VALIDATE_PER_FIELD = 2;
const ICINGA_PER_FIELD = 1;

describe('hostile strings never change the structure of a generated file', () => {
  it('each field: rejected by check, or the same structure and accepted by the real tools', {
    timeout: 180_000,
  }, async () => {
    requireRoot();
    const base = await compileFiles(siteFiles(undefined, ''));
    assert.ok(base.model, JSON.stringify(base.all.filter((d) => d.severity === 'error')));
    const baseNodes = renderBuild(base.model, base.loaded.sources, base.loaded.certs);
    const baseShape = shape(baseNodes);
    assert.deepEqual(
      await validate(baseNodes[0]!.files, siteOf(baseNodes), true),
      [],
      'the base site itself',
    );

    const failures: string[] = [];
    const jobs: { label: string; files: RenderedFile[]; site: RenderedFile[]; icinga: boolean }[] = [];
    let accepted = 0;
    for (const [index, field] of FIELDS.entries()) {
      // Random samples first: they mix classes, so the few validated ones cover the most.
      const samples = [...new Set([...fc.sample(hostile, { numRuns: RUNS, seed: 1000 + index }), ...PIECES])];
      let validated = 0;
      let icingaRuns = 0;
      for (const h of samples) {
        const run = await compileFiles(siteFiles(field, h));
        if (run.all.some((d) => d.severity === 'error') || run.model === undefined) continue;
        accepted++;
        const label = `${field.name} = ${JSON.stringify(field.wrap(h))}`;
        let nodes: { files: RenderedFile[] }[];
        try {
          nodes = renderBuild(run.model, run.loaded.sources, run.loaded.certs);
        } catch (e) {
          if (!(e instanceof RenderRefusal)) throw e;
          failures.push(`${label}: check let it through, RenderRefusal: ${e.message}`);
          continue;
        }
        if (JSON.stringify(shape(nodes)) !== JSON.stringify(baseShape)) {
          failures.push(`${label}: generated files changed structure`);
          continue;
        }
        if (validated >= VALIDATE_PER_FIELD) continue;
        validated++;
        const icinga = icingaRuns < ICINGA_PER_FIELD && icingaChanged(nodes, baseNodes);
        if (icinga) icingaRuns++;
        jobs.push({ label, files: nodes[0]!.files, site: siteOf(nodes), icinga });
      }
    }
    // The tools mostly wait (Icinga about a second each): run them side by side.
    const results = await pool(jobs, 4, async (j) =>
      (await validate(j.files, j.site, j.icinga)).map((p) => `${j.label}: ${p}`),
    );
    failures.push(...results.flat());
    assert.deepEqual(failures, [], `${failures.length} hostile samples got through:\n${failures.join('\n')}`);
    // The suite must exercise the renderers, not only the checks.
    assert.ok(accepted >= FIELDS.length, `only ${accepted} hostile samples were accepted`);
  });
});
