import { createHash, hash } from 'node:crypto';
import type { Model, NodeModel } from '../model/index.ts';
import { renderBird } from './bird/index.ts';
import { renderHaproxy } from './haproxy/index.ts';
import { renderHealthd } from './healthd/config.ts';
import { renderIcinga2 } from './icinga2/index.ts';
import { renderKeepalived } from './keepalived/index.ts';
import { renderNftables } from './nftables/index.ts';
import { FILE_MODE, fileMode } from './secrets.ts';
import { SharedParts } from './shared.ts';
import { renderSystemd } from './systemd/unit.ts';
import type { NodeLayout, RenderedFile, Renderer } from './types.ts';

/** A renderer and when it applies to a site. */
export interface Target {
  name: string;
  applies(model: Model): boolean;
  render: Renderer;
}

const always = (): boolean => true;

/** The targets every node gets. */
const targets: Target[] = [
  { name: 'haproxy', applies: always, render: renderHaproxy },
  { name: 'systemd', applies: always, render: renderSystemd },
  { name: 'healthd', applies: always, render: renderHealthd },
  { name: 'bird', applies: (m) => m.site.ha.mode === 'anycast', render: renderBird },
  { name: 'keepalived', applies: (m) => m.site.ha.mode === 'vrrp', render: renderKeepalived },
  { name: 'nftables', applies: always, render: renderNftables },
  { name: 'icinga2', applies: always, render: renderIcinga2 },
];

export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * Everything one node needs, in the pinned layout, plus `certs/` and `manifest.json` (every file
 * with its sha256 and the intent revision). Pure: same model, same bytes. Nodes of one site render
 * pass the same `shared`.
 */
export function renderNode(
  model: Model,
  node: NodeModel,
  layout: NodeLayout,
  intentRevision: string,
  shared = new SharedParts(),
): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const t of targets) if (t.applies(model)) files.push(...t.render(model, node, layout, shared));
  const used = new Set(model.services.flatMap((s) => s.certs));
  for (const c of model.site.certs) {
    if (used.has(c.file)) files.push({ path: `certs/${c.file.split('/').pop()}`, content: c.pem });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = {
    site: model.site.name,
    node: node.name,
    intent_revision: intentRevision,
    instances: model.instances.map((i) => ({ name: i.name, addresses: i.addresses, services: i.services })),
    files: Object.fromEntries(files.map((f) => [f.path, sha256(f.content)])),
    // Files not written 0644 (secrets: see secrets.ts), as octal text.
    modes: Object.fromEntries(
      files
        .filter((f) => fileMode(f.path) !== FILE_MODE)
        .map((f) => [f.path, `0${fileMode(f.path).toString(8)}`]),
    ),
  };
  files.push({ path: 'manifest.json', content: `${JSON.stringify(manifest, null, 2)}\n` });
  return files;
}

/** A stable hash of the intent sources (every file of the site that was read). */
export function intentRevision(
  sources: ReadonlyMap<string, string>,
  certs: readonly { path: string; pem: string }[],
): string {
  const h = createHash('sha256');
  const entries = [...sources, ...certs.map((c) => [c.path, c.pem] as const)].sort((a, b) =>
    a[0] < b[0] ? -1 : 1,
  );
  for (const [path, text] of entries) h.update(`${path}\0${sha256(text)}\n`);
  return h.digest('hex').slice(0, 16);
}
