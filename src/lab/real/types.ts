/**
 * Debian's own daemons as lab backends (`lab up --backends real`): what one instance serves, and
 * the descriptor each daemon declares — its binaries, the PROXY versions it takes, the files and
 * commands of one instance. Shared code reads descriptors only (docs/adr/0024-real-backends.md).
 */

/** The protocols a Debian daemon can serve in the lab. */
export const REAL_PROTOCOLS = ['ldap', 'smtp', 'mysql', 'pgsql', 'redis'] as const;

/** One of {@link REAL_PROTOCOLS}. */
export type RealProtocol = (typeof REAL_PROTOCOLS)[number];

/** The PROXY protocol versions HAProxy sends (`send-proxy`, `send-proxy-v2`). */
export type ProxyVersion = 'v1' | 'v2';

/** One daemon process on a backend host: one port, on one or more of the host's addresses. */
export interface RealInstance {
  host: string;
  protocol: RealProtocol;
  /** The descriptor's daemon name (`slapd`, `postfix`, ...). */
  daemon: string;
  /** `<daemon>-<port>`: the instance's folder and log name. */
  name: string;
  port: number;
  /** Sorted, IPv6 without brackets. */
  addresses: string[];
  /** The PROXY header every connection starts with; absent: none. */
  proxy?: ProxyVersion;
  /** Where PROXY headers may come from: the LB nodes' addresses, sorted. */
  trusted: string[];
}

/** A folder of an instance, relative to the instance's folder. */
export interface DaemonDir {
  path: string;
  mode: number;
  /** A system user or group name; absent: root (or the descriptor's `user`). */
  owner?: string;
  group?: string;
}

/** What one instance needs, all paths absolute except `dirs[].path` and `files[].path`. */
export interface DaemonSetup {
  /** Created in this order, below the instance's folder. */
  dirs: DaemonDir[];
  files: { path: string; text: string }[];
  /** Commands run once, in order, before the daemon (`initdb`, `mariadb-install-db`). */
  prepare: string[][];
  /** The daemon in the foreground: its PID is the one the lab records and stops. */
  start: string[];
  /** A text the daemon's log holds once it serves. */
  ready: string;
}

/** One Debian daemon, as the lab runs it. */
export interface RealDaemon {
  protocol: RealProtocol;
  daemon: string;
  /** The Debian package that brings it (for the message when a binary is missing). */
  package: string;
  /**
   * Absolute paths of the binaries it needs. A `*` stands for one versioned folder, the highest
   * version found (PostgreSQL's `/usr/lib/postgresql/<version>/bin`).
   */
  binaries: readonly string[];
  /** The PROXY versions it accepts on a listener that asks for one; empty: none. */
  proxy: readonly ProxyVersion[];
  /** It runs (and `prepare` runs) as this system user, owning the instance's folder; else root. */
  user?: string;
  /** The files and commands of one instance in `dir`; `bin` maps a declared binary to its path. */
  setup(i: RealInstance, dir: string, bin: (declared: string) => string): DaemonSetup;
}
