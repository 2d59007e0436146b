/** What the lab asks of its router, whichever daemon plays it (`lab up --router bird|frr`). */
import type { Model } from '../model/index.ts';
import type { LabProcess, SpawnSpec } from './processes.ts';
import type { LabState } from './state.ts';

/** The routers the lab can run. */
export const ROUTER_KINDS = ['bird', 'frr'] as const;
export type RouterKind = (typeof ROUTER_KINDS)[number];

/** One BGP session of the router as the daemon reports it. */
export interface RouterSessionState {
  /** The session's name from routerSessions() (`rr1_lb1`). */
  name: string;
  state: string;
  info: string;
  since: string;
  established: boolean;
}

/** A route to a VIP in the router's daemon: the protocol (BGP session, static) and its next hops. */
export interface RouterRoute {
  protocol: string;
  via: string[];
}

/** The router's view: its BGP sessions and, per VIP prefix, its routes (one per BGP path learnt). */
export interface RouterView {
  sessions: RouterSessionState[];
  routes: Map<string, RouterRoute[]>;
}

/** One router daemon: how the lab starts, reconfigures and asks it. */
export interface RouterDriver {
  /** For people: `BIRD`, `FRR`. */
  label: string;
  /** Tools `lab up` needs for it (preflight). */
  tools: readonly string[];
  /** Where its configuration and control socket(s) live in the lab folder. */
  paths(dir: string): { config: string; socket: string };
  /** Problems that stop it standing in for the site's router (empty: it can). */
  problems(model: Model): string[];
  /** Writes and checks its configuration, starts it, returns once it answers. */
  start(s: LabState, model: Model, spawn: (spec: SpawnSpec) => LabProcess): Promise<void>;
  /** `lab apply`: the configuration follows the site (checked before it is used). */
  reconfigure(s: LabState, model: Model, spawn: (spec: SpawnSpec) => LabProcess): Promise<void>;
  /** Its sessions and its routes to `prefixes`; throws when it does not answer. */
  view(s: LabState, prefixes: readonly string[]): Promise<RouterView>;
}
