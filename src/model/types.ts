import type { HaMode } from '../vocabulary/ha-modes.ts';
import type { CheckType, Protocol } from '../vocabulary/protocols.ts';

/** Where an effective value came from: a place in a file, or an inference rule. */
export type Source =
  | { kind: 'file'; file: string; line: number; column: number }
  | { kind: 'rule'; rule: string; detail: string };

export interface NodeModel {
  name: string;
  address: string;
  address6?: string;
  interface?: string;
}

export interface BgpPeerModel {
  name: string;
  address: string;
  as: number;
  password?: string;
}

export type { HaMode } from '../vocabulary/ha-modes.ts';

export interface HaModel {
  mode: HaMode;
  bgp?: {
    localAs: number;
    peers: BgpPeerModel[];
    bfd: 'off' | 'fast' | 'conservative';
    communities: string[];
    med?: number;
  };
  vrrp?: { interface: string; routerIdBase: number; unicast: boolean; advertInt: number };
  /** `mode: script`: the platform's failover script `<etc>/failover.d/<name>`, and its time limit. */
  script?: { name: string; timeoutMs: number };
}

/** healthd's cadence for a VIP (site.yaml `health`, a service's `health`). */
export interface HealthTimingModel {
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  holdDownMs: number;
}

/** A command exec health checks may name (site.yaml `checks.commands`). */
export interface CheckCommandModel {
  name: string;
  path: string;
  args: string[];
  argsAllowed: boolean;
}

/** What healthd watches for a service's VIP beside the monitor URI. */
export interface ServiceHealthModel extends HealthTimingModel {
  /** An exec check: the command's name and the service's own arguments. */
  exec?: { command: string; args: string[] };
}

export interface CertModel {
  /** Site-relative path of the PEM bundle. */
  file: string;
  names: string[];
  notAfter: string;
  pem: string;
}

export interface TeamModel {
  name: string;
  path: string;
  vipPools: string[];
  ports: number[];
}

export interface SiteModel {
  name: string;
  nodes: NodeModel[];
  ha: HaModel;
  tls: { policy: 'modern' | 'intermediate' | 'old'; hstsSeconds?: number };
  instances: 'per-vip' | 'per-group' | 'single';
  teams: TeamModel[];
  health: { port: number; path: string } & HealthTimingModel;
  /** Commands exec health checks may name, by name. */
  checkCommands: CheckCommandModel[];
  management: { allow: string[]; statsPortBase: number };
  certs: CertModel[];
}

export interface ServerModel {
  name: string;
  address: string;
  port: number;
  weight: number;
  backup: boolean;
  maxconn?: number;
}

export interface CheckModel {
  type: CheckType;
  path: string;
  host?: string;
  /** Expected HTTP status (number) or string/regex for text protocols. */
  expect?: number | string;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  port?: number;
}

export interface BackendModel {
  /** HAProxy backend name, unique in the site. */
  name: string;
  servers: ServerModel[];
  balance: string;
  check: CheckModel;
  sticky: 'cookie' | 'source' | 'none';
  cookie: string;
  proxyProtocol?: 'v1' | 'v2';
  transparent: boolean;
  ssl: boolean;
  sslVerify: 'none' | 'required';
  maxconn?: number;
  timeouts: { connectMs: number; serverMs: number; queueMs: number };
}

/** One listening port of a service. */
export interface ListenerModel {
  port: number;
  tls: boolean;
  /** serve: pass to the backends; redirect-https: answer with a redirect to https. */
  role: 'serve' | 'redirect-https';
}

export interface RouteModel {
  pathPrefix?: string;
  host?: string;
  backend: BackendModel;
}

export interface RedirectModel {
  pathPrefix?: string;
  host?: string;
  to: string;
  code: number;
  keepPath: boolean;
}

export interface ServiceModel {
  id: string;
  /** Site-relative path of the service file. */
  file: string;
  team?: string;
  description?: string;
  fqdns: string[];
  vip?: string;
  vip6?: string;
  protocol: Protocol;
  mode: 'http' | 'tcp';
  listeners: ListenerModel[];
  ssl: boolean;
  sslRedirect: boolean;
  hstsSeconds?: number;
  /** Certificate bundles (site-relative) that cover this service's FQDNs. */
  certs: string[];
  /** HTTP mode: add X-Forwarded-For/-Proto. */
  forwardFor: boolean;
  backend: BackendModel;
  routes: RouteModel[];
  redirects: RedirectModel[];
  allow: string[];
  maxconn?: number;
  timeouts: { clientMs: number; httpRequestMs: number; httpKeepAliveMs: number };
  monitoring: { icinga: boolean; prometheus: boolean; url: string; notes?: string; contacts: string[] };
  health: ServiceHealthModel;
  /** Effective field (dotted intent path) -> where its value came from. */
  sources: Record<string, Source>;
}

/** One HAProxy process: the services it serves and the addresses it binds. */
export interface InstanceModel {
  name: string;
  services: string[];
  /** VIPs (v4 and v6) bound by this instance, sorted. */
  addresses: string[];
  /** Port of the stats/Prometheus listener on the node's management address. */
  statsPort: number;
}

/** The checked, complete, normalised site: what every renderer reads. */
export interface Model {
  site: SiteModel;
  services: ServiceModel[];
  instances: InstanceModel[];
}
