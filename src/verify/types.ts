import type { Socket } from 'node:net';
import type { Model, NodeModel } from '../model/index.ts';

/** What one check found. `ok: true` with a detail starting `skipped:` when it could not be run from here. */
export interface Outcome {
  ok: boolean;
  detail: string;
}

/** One row of `intentlb verify`: the pinned JSON fields, and how long the probe took. */
export interface VerifyResult extends Outcome {
  service: string;
  check: string;
  ms: number;
}

export interface VerifyReport {
  ok: boolean;
  revision: string;
  results: VerifyResult[];
}

/** An address and port to probe, and the local address to probe it from (none: the kernel picks). */
export interface Endpoint {
  address: string;
  port: number;
  source?: string;
}

/**
 * What the checks are planned from: the site, the vantage point (the local addresses of the host
 * verify runs on) and what the operator gave on the command line. Plain data, so planning is pure.
 */
export interface PlanContext {
  model: Model;
  revision: string;
  /** `--node`: verify runs on this node; its VIPs are local here, so probes reach its HAProxy. */
  node?: NodeModel;
  /** Addresses of this host's interfaces (no link-local). */
  local: readonly string[];
  /** A served certificate must be valid for at least this many more days. */
  certDays: number;
  /** `--bird`: a BIRD control socket with a view of the announcements (the router's, in the lab). */
  bird?: string;
  /** Node name → its install root, for the revision each node has applied. */
  roots: ReadonlyMap<string, string>;
}

/** One check planned for a service, before it runs. `spec` is plain data (tests compare it). */
export interface PlannedCheck {
  service: string;
  check: string;
  kind: string;
  spec: unknown;
}

/** What a probe may use: a per-probe timeout, the run's deadline and things shared within a run. */
export interface ProbeEnv {
  timeoutMs: number;
  now: Date;
  /** Hands a socket to the run, which destroys what is still open at the deadline. */
  own(socket: Socket): void;
  /** One value per key for the whole run (a BIRD connection shared by the announce checks). */
  shared<T>(key: string, make: () => T, close?: (value: T) => void): T;
}

/**
 * A kind of check: which services it applies to and what it expects of them (pure), and how to
 * probe that over the network (I/O). One module per kind; `kinds/index.ts` lists them.
 */
export interface CheckKind<S> {
  kind: string;
  /** The checks of one service (empty when the kind does not apply). */
  plan(service: Model['services'][number], ctx: PlanContext): { check: string; spec: S }[];
  /** Checks that belong to the site rather than a service (service field `node:<name>`). */
  planSite?(ctx: PlanContext): { service: string; check: string; spec: S }[];
  probe(spec: S, env: ProbeEnv): Promise<Outcome>;
}
