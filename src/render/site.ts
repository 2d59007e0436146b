import type { Model } from '../model/index.ts';
import { renderIcingaSite } from './icinga2/site.ts';
import { renderPrometheus } from './prometheus/config.ts';
import type { RenderedFile } from './types.ts';

/**
 * The folder of `build` output that holds what belongs to the whole site rather than one node
 * (monitoring for the Icinga master and the Prometheus server). A node name starts with a letter
 * or digit (vocabulary/names.ts), so no node's folder can take this name.
 */
export const SITE_DIR = '_site';

/** The site-wide files, relative to {@link SITE_DIR}, sorted. Pure: same model, same bytes. */
export function renderSiteFiles(model: Model, intentRevision: string): RenderedFile[] {
  return [...renderIcingaSite(model, intentRevision), ...renderPrometheus(model)].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
}
