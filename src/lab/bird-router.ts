/**
 * The lab router as BIRD 2: started in the router's namespace, reconfigured by `birdc configure`,
 * asked through its control socket.
 */
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateBird } from '../build/validate-tools.ts';
import type { Model } from '../model/index.ts';
import { BirdClient } from '../runtime/bird-client.ts';
import { LabError } from './errors.ts';
import { isAlive, type LabProcess, type SpawnSpec, waitForLog } from './processes.ts';
import { renderRouterConfig } from './router-config.ts';
import type { RouterDriver, RouterRoute } from './router-driver.ts';
import type { LabState } from './state.ts';

const BIRD_READY_MS = 10_000;

export const birdRouter: RouterDriver = {
  label: 'BIRD',
  tools: ['bird'],
  paths: (dir) => ({ config: join(dir, 'router', 'bird.conf'), socket: join(dir, 'router', 'bird.ctl') }),
  problems: () => [],
  start: startBird,
  reconfigure: reconfigureBird,
  async view(s, prefixes) {
    const c = await BirdClient.connect(s.router.socket, { timeoutMs: 2000 });
    try {
      const sessions = (await c.showProtocols())
        .filter((p) => p.proto === 'BGP')
        .map((p) => ({
          name: p.name,
          state: p.state,
          info: p.info,
          since: p.since,
          established: /Established/.test(p.info),
        }));
      const routes = new Map<string, RouterRoute[]>();
      for (const prefix of prefixes) {
        routes.set(
          prefix,
          (await c.showRoute(prefix)).map((r) => ({
            protocol: r.protocol,
            via: r.details.flatMap((d) => /^via (\S+)/.exec(d)?.[1] ?? /^(dev \S+)/.exec(d)?.[1] ?? []),
          })),
        );
      }
      return { sessions, routes };
    } finally {
      c.close();
    }
  },
};

async function startBird(s: LabState, model: Model, spawn: (spec: SpawnSpec) => LabProcess): Promise<void> {
  writeFileSync(s.router.config, renderRouterConfig(model, s.topology, s.routing));
  const check = await validateBird(s.router.config);
  if (!check.ok) throw new LabError(`bird rejected the router's configuration:\n${check.output}`);
  const router = s.topology.hosts.find((h) => h.role === 'router')!;
  const bird = spawn({
    kind: 'bird',
    host: 'router',
    ns: router.ns,
    // BFD detects a silent peer after 3 x 50 ms: on a busy machine a starved BIRD would take its
    // own sessions down, so the router's runs ahead of ordinary work.
    command: ['nice', '-n', '-10', 'bird', '-f', '-c', s.router.config, '-s', s.router.socket],
    log: join(s.dir, 'logs', 'router-bird.log'),
  });
  const deadline = Date.now() + BIRD_READY_MS;
  for (;;) {
    if (existsSync(s.router.socket)) {
      const ok = await BirdClient.connect(s.router.socket, { timeoutMs: 1000 }).then(
        (c) => {
          c.close();
          return true;
        },
        () => false,
      );
      if (ok) return;
    }
    if (!isAlive(bird)) await waitForLog(bird, () => false, 0, 'the router (bird)');
    if (Date.now() > deadline) {
      throw new LabError(
        `the router (bird) does not answer on ${s.router.socket} within ${BIRD_READY_MS} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function reconfigureBird(s: LabState, model: Model): Promise<void> {
  const next = `${s.router.config}.new`;
  writeFileSync(next, renderRouterConfig(model, s.topology, s.routing));
  const check = await validateBird(next);
  if (!check.ok) {
    rmSync(next, { force: true });
    throw new LabError(`bird rejected the router's new configuration:\n${check.output}`);
  }
  renameSync(next, s.router.config);
  const c = await BirdClient.connect(s.router.socket);
  try {
    const r = await c.configure();
    if (!r.ok) throw new LabError(`the router refused its new configuration: ${r.message}`);
  } finally {
    c.close();
  }
}
