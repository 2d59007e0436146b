/**
 * What the nodes promise, where verify can see it:
 * - `health` (with `--node`): the node's own HAProxy reports a healthy server for the service on
 *   the monitor URI of its VIP (what the health checker announces on);
 * - `announce` (and `announce/v6`, with `--bird <socket>`): each node that should announce the VIP
 *   is a next hop of its route in that BIRD (the router's view; only `--node`'s node with `--node`);
 * - `revision` (service `node:<name>`, with `--root`/`--roots`): the node has applied the
 *   revision of the intent being verified.
 */
import { openStore, readApplied } from '../../deploy/store.ts';
import { BirdClient } from '../../runtime/bird-client.ts';
import { familyOf } from '../../vocabulary/strings.ts';
import { sharedGet } from '../probe/http.ts';
import type { CheckKind, Endpoint, ProbeEnv } from '../types.ts';
import { vipsOf } from './common.ts';

export interface HealthSpec {
  endpoint: Endpoint;
  path: string;
}

export const healthCheck: CheckKind<HealthSpec> = {
  kind: 'health',
  plan(s, ctx) {
    const v = vipsOf(s)[0];
    if (ctx.node === undefined || v === undefined || s.backend.servers.length === 0) return [];
    const h = ctx.model.site.health;
    return [{ check: 'health', spec: { endpoint: { address: v.address, port: h.port }, path: h.path } }];
  },
  async probe(spec, env) {
    const host = spec.endpoint.address;
    const a = await sharedGet(env, spec.endpoint, { tls: false, host, path: spec.path });
    if (!a.ok) return { ok: false, detail: a.reason };
    return a.status === 200
      ? { ok: true, detail: `monitor ${spec.path}: HTTP 200` }
      : { ok: false, detail: `monitor ${spec.path}: HTTP ${a.status} (no healthy server)` };
  },
};

export interface AnnounceSpec {
  socket: string;
  prefix: string;
  nodes: { name: string; nextHop: string }[];
}

export const announceCheck: CheckKind<AnnounceSpec> = {
  kind: 'announce',
  plan(s, ctx) {
    const socket = ctx.bird;
    if (socket === undefined || ctx.model.site.ha.mode !== 'anycast') return [];
    const nodes = ctx.node === undefined ? ctx.model.site.nodes : [ctx.node];
    return vipsOf(s).map((v) => {
      const six = familyOf(v.address) === 6;
      return {
        check: `announce${v.suffix}`,
        spec: {
          socket,
          prefix: `${v.address}/${six ? 128 : 32}`,
          nodes: nodes.flatMap((n) => {
            const hop = six ? n.address6 : n.address;
            return hop === undefined ? [] : [{ name: n.name, nextHop: hop }];
          }),
        },
      };
    });
  },
  async probe(spec, env) {
    let hops: Set<string>;
    try {
      hops = (await routesOf(spec.socket, env)).get(spec.prefix) ?? new Set();
    } catch (e) {
      return { ok: false, detail: `BIRD at ${spec.socket}: ${e instanceof Error ? e.message : String(e)}` };
    }
    const missing = spec.nodes.filter((n) => !hops.has(n.nextHop)).map((n) => n.name);
    const present = spec.nodes.filter((n) => hops.has(n.nextHop)).map((n) => n.name);
    return missing.length === 0
      ? { ok: true, detail: `${spec.prefix} via ${present.join(', ')}` }
      : {
          ok: false,
          detail: `${spec.prefix} NOT announced by ${missing.join(', ')}${present.length > 0 ? ` (only ${present.join(', ')})` : ''}`,
        };
  },
};

/** Every route BIRD has, prefix → next hops: one `show route` per run, not one per VIP. */
function routesOf(socket: string, env: ProbeEnv): Promise<Map<string, Set<string>>> {
  return env.shared(`bird:${socket}`, async () => {
    const client = await BirdClient.connect(socket, { timeoutMs: env.timeoutMs });
    try {
      const out = new Map<string, Set<string>>();
      for (const r of await client.showRoute()) {
        const hops = out.get(r.prefix) ?? new Set<string>();
        for (const d of r.details) {
          const via = /^via (\S+)/.exec(d)?.[1];
          if (via !== undefined) hops.add(via);
        }
        out.set(r.prefix, hops);
      }
      return out;
    } finally {
      client.close();
    }
  });
}

export interface RevisionSpec {
  root: string;
  revision: string;
}

export const revisionCheck: CheckKind<RevisionSpec> = {
  kind: 'revision',
  plan: () => [],
  planSite(ctx) {
    return [...ctx.roots].map(([node, root]) => ({
      service: `node:${node}`,
      check: 'revision',
      spec: { root, revision: ctx.revision },
    }));
  },
  async probe(spec) {
    const applied = readApplied(openStore(spec.root));
    if (applied === null) return { ok: false, detail: `nothing applied under ${spec.root}` };
    return applied.revision === spec.revision
      ? { ok: true, detail: `revision ${applied.revision} (generation ${applied.generation})` }
      : { ok: false, detail: `runs revision ${applied.revision}, expected ${spec.revision}` };
  },
};
