import { checkBackendAddresses } from './check/backend-addresses.ts';
import { checkAcross } from './check/cross-checks.ts';
import { checkPlatform } from './check/platform-checks.ts';
import { checkCertExpiry, checkService } from './check/service-checks.ts';
import { type Diagnostic, hasErrors, type Result, uniqueDiagnostics } from './diagnostics/index.ts';
import { ServiceScope } from './infer/context.ts';
import { chainResolvers, type DnsResolver, resolveAll, staticResolver, systemResolver } from './infer/dns.ts';
import { inferService } from './infer/service.ts';
import { type LoadedSite, type SourceFile, serviceId } from './load/index.ts';
import {
  checkLocks,
  type Layer,
  type Lock,
  type Merged,
  mergeLayer,
  mergeLayers,
  type Tree,
} from './merge/index.ts';
import { groupInstances, type Model, type ServiceModel, type TeamModel } from './model/index.ts';
import { type SiteContext, validateFile, validateSite } from './validate/index.ts';
import { defaultsSchema, serviceSchema } from './vocabulary/schemas.ts';

export interface CompileOptions {
  /** Replaces dns.yaml + system resolver (tests). */
  resolver?: DnsResolver;
  /** The clock, for certificate expiry. */
  now: Date;
}

export interface Compiled {
  /** The model; undefined when errors stand. */
  model: Model | undefined;
  /** Every service that could be completed, also when others have errors (for explain). */
  services: ServiceModel[];
  diagnostics: Diagnostic[];
}

interface DefaultsLayer {
  layer: Layer | undefined;
  locks: string[];
}

/**
 * load → merge → validate → infer → check → model. Pure but for the DNS lookups behind the
 * resolver interface. Collects every problem; the model is returned only when none is an error.
 */
export async function compile(loaded: LoadedSite, opts: CompileOptions): Promise<Compiled> {
  const diagnostics: Diagnostic[] = [];
  const ctxR = validateSite(loaded);
  diagnostics.push(...ctxR.diagnostics);
  const ctx = ctxR.value;

  const defaults = new Map<string, DefaultsLayer>();
  for (const [folder, file] of loaded.defaults) {
    if (!file.ok) {
      defaults.set(folder, { layer: undefined, locks: [] });
      continue;
    }
    const r = validateFile(file, defaultsSchema, 'a defaults file');
    diagnostics.push(...r.diagnostics);
    const { lock, ...data } = (r.value ?? {}) as Tree & { lock?: string[] };
    defaults.set(folder, { layer: r.value ? { file, data } : undefined, locks: lock ?? [] });
  }

  const scopes = new Map<string, ServiceScope>();
  const chains = new Map<string, DefaultsChain | undefined>();
  for (const file of loaded.services) {
    const scope = scopeFor(file, defaults, chains, diagnostics);
    if (scope) scopes.set(scope.id, scope);
  }

  if (!ctx) return finish(undefined, [], diagnostics);

  const resolver = opts.resolver ?? defaultResolver(ctx);
  const names = [...scopes.values()].flatMap((s) => fqdnsOf(s.merged.value));
  const dns = await resolveAll(resolver, names);

  const services: ServiceModel[] = [];
  for (const scope of scopes.values()) {
    const team = teamOf(scope.id, ctx.site.teams);
    const s = inferService(scope, ctx, dns, team);
    if (!s) continue;
    diagnostics.push(...scope.diagnostics, ...checkService(s, scope, ctx.site, dns, team));
    services.push(s);
  }
  services.sort((a, b) => a.id.localeCompare(b.id));
  diagnostics.push(...checkAcross(services, scopes, ctx));
  diagnostics.push(...checkPlatform(services, scopes, ctx));
  diagnostics.push(...checkBackendAddresses(services, scopes, ctx));
  diagnostics.push(...checkCertExpiry(ctx.site, new Set(services.flatMap((s) => s.certs)), opts.now));

  // A file that did not parse or was refused was reported by `load`, not here; its services are
  // missing, so no model.
  const unparsed =
    [loaded.site, loaded.inventory, loaded.dns, ...loaded.defaults.values(), ...loaded.services].some(
      (f) => f !== undefined && !f.ok,
    ) || loaded.refused.length > 0;
  const model =
    hasErrors(diagnostics) || unparsed
      ? undefined
      : { site: ctx.site, services, instances: groupInstances(services, ctx.site) };
  return finish(model, services, diagnostics);
}

function finish(model: Model | undefined, services: ServiceModel[], diagnostics: Diagnostic[]): Compiled {
  return { model, services, diagnostics: uniqueDiagnostics(diagnostics) };
}

/** The defaults files above a folder, root first, merged: once per folder, not per service. */
interface DefaultsChain {
  layers: Layer[];
  locks: Lock[];
  merged: Merged;
}

function scopeFor(
  file: SourceFile,
  defaults: ReadonlyMap<string, DefaultsLayer>,
  chains: Map<string, DefaultsChain | undefined>,
  diagnostics: Diagnostic[],
): ServiceScope | undefined {
  if (!file.ok) return undefined;
  const r = validateFile(file, serviceSchema, 'a service');
  diagnostics.push(...r.diagnostics);
  if (!r.value) return undefined;
  const id = serviceId(file);
  const folder = id.slice(0, Math.max(0, id.lastIndexOf('/')));
  if (!chains.has(folder)) chains.set(folder, defaultsChain(folder, defaults));
  const chain = chains.get(folder);
  if (!chain) return undefined;
  const data = r.value as Tree;
  const layers = [...chain.layers, { file, data }];
  diagnostics.push(...checkLocks(layers, chain.locks));
  return new ServiceScope(id, file, layers, mergeLayer(chain.merged, data, chain.layers.length));
}

/** The chain of defaults for services in `folder`; undefined when one of its files has errors. */
function defaultsChain(
  folder: string,
  defaults: ReadonlyMap<string, DefaultsLayer>,
): DefaultsChain | undefined {
  const parts = folder === '' ? [] : folder.split('/');
  const layers: Layer[] = [];
  const locks: Lock[] = [];
  for (let depth = 0; depth <= parts.length; depth++) {
    const d = defaults.get(parts.slice(0, depth).join('/'));
    if (!d) continue;
    if (!d.layer) return undefined; // that defaults file has errors of its own, already reported
    for (const [index, key] of d.locks.entries()) locks.push({ key, layer: layers.length, index });
    layers.push(d.layer);
  }
  return { layers, locks, merged: mergeLayers(layers) };
}

function defaultResolver(ctx: SiteContext): DnsResolver {
  const offline = staticResolver(ctx.dns);
  return ctx.resolver.enabled ? chainResolvers(offline, systemResolver(ctx.resolver.timeoutMs)) : offline;
}

function fqdnsOf(v: Tree): string[] {
  const f = v.fqdn;
  return typeof f === 'string'
    ? [f]
    : Array.isArray(f)
      ? f.filter((x): x is string => typeof x === 'string')
      : [];
}

/** The team owning a service: the one whose folder is the longest prefix of the service id. */
export function teamOf(id: string, teams: readonly TeamModel[]): TeamModel | undefined {
  let best: TeamModel | undefined;
  for (const t of teams) {
    if (t.path === '' || id === t.path || id.startsWith(`${t.path}/`)) {
      if (!best || t.path.length > best.path.length) best = t;
    }
  }
  return best;
}

export type { Result };
