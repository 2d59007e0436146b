import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pc from 'picocolors';
import { isMissing } from '../errors.ts';
import { instancePaths } from '../render/haproxy/paths.ts';
import { HaproxyClient, MasterClient } from '../runtime/haproxy-client.ts';
import type { ProcessControl } from './control.ts';
import { currentGeneration, readApplied, readManifest, type Store } from './store.ts';

export interface InstanceStatus {
  name: string;
  running: boolean;
  masterPid: number | null;
  /** Current workers, and old ones still finishing connections. */
  workers: number;
  oldWorkers: number;
  reloads: number | null;
  servers: { up: number; down: number; drain: number; maint: number };
  lastChange: { action: string; at: string; result: string } | null;
}

export interface NodeStatus {
  node: string;
  site: string;
  installed: number | null;
  applied: number | null;
  appliedAt: string | null;
  /** The site commit the node runs (recorded by rollout and pull), or null. */
  commit: string | null;
  control: string;
  units: { name: string; state: string; pid: number | null; restarts: number }[];
  instances: InstanceStatus[];
}

/** What runs on the node now, read from the installed manifest and the HAProxy sockets. */
export async function nodeStatus(store: Store, control: ProcessControl): Promise<NodeStatus | null> {
  const manifest = readManifest(store);
  if (manifest === null) return null;
  const applied = readApplied(store);
  let units: NodeStatus['units'] = [];
  try {
    units = (await control.units()).map((u) => ({
      name: u.name,
      state: u.state,
      pid: u.pid,
      restarts: u.restarts,
    }));
  } catch {
    // no supervisor / systemd reachable: every instance shows as not running below
  }
  let last: Record<string, InstanceStatus['lastChange']> = {};
  try {
    last = JSON.parse(readFileSync(join(store.layout.state, 'instances.json'), 'utf8')) as typeof last;
  } catch (err) {
    // nothing applied yet, or a record cut short: no last change to show
    if (!isMissing(err) && !(err instanceof SyntaxError)) throw err;
  }
  const instances = await Promise.all(
    manifest.instances.map(async (i): Promise<InstanceStatus> => {
      const p = instancePaths(store.layout, i.name);
      const st: InstanceStatus = {
        name: i.name,
        running: false,
        masterPid: null,
        workers: 0,
        oldWorkers: 0,
        reloads: null,
        servers: { up: 0, down: 0, drain: 0, maint: 0 },
        lastChange: last[i.name] ?? null,
      };
      try {
        const procs = await new MasterClient({ path: p.masterSocket }, { timeoutMs: 2000 }).showProc();
        const master = procs.find((x) => x.type === 'master');
        st.running = master !== undefined;
        st.masterPid = master?.pid ?? null;
        st.reloads = master?.reloads ?? null;
        st.workers = procs.filter((x) => x.type === 'worker' && x.current).length;
        st.oldWorkers = procs.filter((x) => x.type === 'worker' && !x.current).length;
        for (const row of await new HaproxyClient({ path: p.adminSocket }, { timeoutMs: 2000 }).showStat()) {
          if (row.svname === 'FRONTEND' || row.svname === 'BACKEND') continue;
          const s = (row.status ?? '').toUpperCase();
          if (s.startsWith('MAINT')) st.servers.maint++;
          else if (s.startsWith('DRAIN')) st.servers.drain++;
          else if (s.startsWith('UP') || s === 'NO CHECK') st.servers.up++;
          else if (s.startsWith('DOWN')) st.servers.down++;
        }
      } catch {
        // not running, or its sockets do not answer
      }
      return st;
    }),
  );
  return {
    node: manifest.node,
    site: manifest.site,
    installed: currentGeneration(store),
    applied: applied?.generation ?? null,
    appliedAt: applied?.at ?? null,
    commit: applied?.commit ?? null,
    control: control.kind,
    units,
    instances,
  };
}

export function formatStatus(st: NodeStatus, color: boolean): string {
  const c = color ? pc : pc.createColors(false);
  const lines = [
    `${c.bold(st.node)} (site ${st.site}): generation ${st.installed ?? '-'} installed, ${st.applied ?? '-'} applied${st.appliedAt ? ` at ${st.appliedAt}` : ''}; processes: ${st.control}`,
  ];
  const w = Math.max(8, ...st.instances.map((i) => i.name.length));
  lines.push(
    `  ${'instance'.padEnd(w)}  state     pid      workers  reloads  servers up/down/drain/maint  last change`,
  );
  for (const i of st.instances) {
    const state = i.running ? c.green('running ') : c.red('stopped ');
    const workers = `${i.workers}${i.oldWorkers > 0 ? `+${i.oldWorkers} old` : ''}`;
    const s = i.servers;
    const servers = `${s.up}/${s.down > 0 ? c.red(String(s.down)) : '0'}/${s.drain}/${s.maint}`;
    const last =
      i.lastChange === null ? '-' : `${i.lastChange.action} ${i.lastChange.result} ${i.lastChange.at}`;
    lines.push(
      `  ${i.name.padEnd(w)}  ${state}  ${String(i.masterPid ?? '-').padEnd(7)}  ${workers.padEnd(7)}  ${String(i.reloads ?? '-').padEnd(7)}  ${servers.padEnd(27)}  ${last}`,
    );
  }
  const others = st.units.filter((u) => !u.name.startsWith('haproxy@'));
  for (const u of others) lines.push(`  ${u.name.padEnd(w)}  ${u.state.padEnd(8)}  ${String(u.pid ?? '-')}`);
  return `${lines.join('\n')}\n`;
}
