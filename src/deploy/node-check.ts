/**
 * `intentlb status --format nagios --check <what>`: one monitoring-plugin status line about this
 * node, for the Icinga agent on it (the site's `intentlb-node` CheckCommand). The judgement is a
 * pure function of what was read; only `readNodeCheck` touches sockets.
 */
import { join } from 'node:path';
import { BirdClient, type BirdProtocol } from '../runtime/bird-client.ts';
import type { NodeStatus } from './status.ts';
import { readManifest, type Store } from './store.ts';

export const NODE_CHECKS = ['instances', 'bgp', 'revision'] as const;
export type NodeCheckName = (typeof NODE_CHECKS)[number];

/** Plugin exit codes. */
export const PLUGIN = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

export interface NodeFacts {
  status: NodeStatus;
  /** The intent revision of the installed generation. */
  revision: string | null;
  /** The node runs BIRD (anycast): its BGP sessions, or why they could not be read. */
  bgp: { protocols: BirdProtocol[] } | { error: string } | null;
}

export interface PluginResult {
  code: (typeof PLUGIN)[keyof typeof PLUGIN];
  /** The status line, then the long-output lines. */
  text: string;
}

// `|` starts the perfdata of a plugin's output, and a line break the long output.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
const plain = (s: string): string => s.replace(/[\u0000-\u001f\u007f|]/g, ' ');

function result(code: PluginResult['code'], label: string, line: string, long: string[] = []): PluginResult {
  const word = (Object.keys(PLUGIN) as (keyof typeof PLUGIN)[]).find((k) => PLUGIN[k] === code)!;
  return {
    code,
    text: [`${label} ${word.toUpperCase()} - ${plain(line)}`, ...long.map(plain)].join('\n') + '\n',
  };
}

/** Judges one concern of the node from what was read. */
export function judgeNode(what: NodeCheckName, f: NodeFacts, expected?: string): PluginResult {
  return JUDGES[what](f, expected);
}

const JUDGES: Record<NodeCheckName, (f: NodeFacts, expected?: string) => PluginResult> = {
  instances(f) {
    const all = f.status.instances;
    const down = all.filter((i) => !i.running).map((i) => i.name);
    const perf = ` | instances=${all.length} stopped=${down.length}`;
    if (down.length > 0)
      return result(
        PLUGIN.critical,
        'INSTANCES',
        `${down.length} of ${all.length} not running: ${down.join(', ')}${perf}`,
      );
    return result(PLUGIN.ok, 'INSTANCES', `${all.length} HAProxy instances running${perf}`);
  },
  bgp(f) {
    if (f.bgp === null) return result(PLUGIN.ok, 'BGP', 'this node runs no BGP (ha.mode is not anycast)');
    if ('error' in f.bgp) return result(PLUGIN.critical, 'BGP', `BIRD does not answer: ${f.bgp.error}`);
    const sessions = f.bgp.protocols.filter((p) => p.proto === 'BGP');
    if (sessions.length === 0) return result(PLUGIN.critical, 'BGP', 'BIRD has no BGP session');
    const bad = sessions.filter((p) => p.state !== 'up' || !p.info.startsWith('Established'));
    const perf = ` | sessions=${sessions.length} established=${sessions.length - bad.length}`;
    const long = sessions.map((p) => `${p.name}: ${p.state} ${p.info} since ${p.since}`);
    if (bad.length === sessions.length)
      return result(PLUGIN.critical, 'BGP', `no session established${perf}`, long);
    if (bad.length > 0)
      return result(
        PLUGIN.warning,
        'BGP',
        `${bad.map((p) => p.name).join(', ')} not established${perf}`,
        long,
      );
    return result(PLUGIN.ok, 'BGP', `${sessions.length} sessions established${perf}`, long);
  },
  revision(f, expected) {
    if (f.revision === null) return result(PLUGIN.critical, 'REVISION', 'no intent installed');
    const applied =
      f.status.applied === f.status.installed
        ? ''
        : ` (generation ${f.status.installed} installed, ${f.status.applied ?? '-'} applied)`;
    if (expected === undefined) return result(PLUGIN.ok, 'REVISION', `revision ${f.revision}${applied}`);
    if (f.revision !== expected)
      return result(
        PLUGIN.warning,
        'REVISION',
        `revision ${f.revision} installed, ${expected} expected${applied}`,
      );
    if (applied !== '') return result(PLUGIN.warning, 'REVISION', `revision ${f.revision}${applied}`);
    return result(PLUGIN.ok, 'REVISION', `revision ${f.revision} applied`);
  },
};

/** Reads what a check needs: the installed manifest and, where BIRD runs, its protocols. */
export async function readNodeFacts(
  store: Store,
  status: NodeStatus,
  what: NodeCheckName,
): Promise<NodeFacts> {
  const manifest = readManifest(store);
  const facts: NodeFacts = { status, revision: manifest?.intent_revision ?? null, bgp: null };
  if (what !== 'bgp' || manifest === null || !('bird/intentlb.conf' in manifest.files)) return facts;
  let client: BirdClient | undefined;
  try {
    client = await BirdClient.connect(join(store.layout.run, 'bird.ctl'), { timeoutMs: 5000 });
    return { ...facts, bgp: { protocols: await client.showProtocols() } };
  } catch (e) {
    return { ...facts, bgp: { error: e instanceof Error ? e.message : String(e) } };
  } finally {
    client?.close();
  }
}
