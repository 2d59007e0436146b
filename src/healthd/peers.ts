/**
 * Script failover's arbitration: a node stands by for a VIP while a preferred peer (a node listed
 * before it in site.yaml) serves it. Each preferred peer's healthd `/status` is read every
 * `intervalMs`; the VIPs it announces are posted to the core as a `peer` event whenever that set
 * changes. A peer that does not answer in time (stopped, crashed, cut off) serves nothing.
 */

import { request } from 'node:http';
import type { Timers } from './timers.ts';

export interface PeerConfig {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface PeersConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Preferred peers only, most preferred first. */
  readonly nodes: readonly PeerConfig[];
}

export interface PeerWatcherOptions {
  readonly timers: Timers;
  readonly onChange: (peer: string, serving: readonly string[], error?: string) => void;
  /** Reads a peer's served VIPs; default: GET /status. */
  readonly fetch?: (peer: PeerConfig, timeoutMs: number) => Promise<string[]>;
}

const MAX_STATUS_BYTES = 16 * 1024 * 1024;

/** The VIPs a healthd `/status` document says are announced (served) now. */
export function servedVips(status: unknown): string[] {
  const vips = (status as { vips?: unknown } | null)?.vips;
  if (!Array.isArray(vips)) throw new Error('no vips in the status');
  return vips
    .filter((v): v is { name: string; announced: true } => {
      const x = v as { name?: unknown; announced?: unknown; removing?: unknown };
      return typeof x.name === 'string' && x.announced === true && x.removing !== true;
    })
    .map((v) => v.name)
    .sort();
}

/** GET http://address:port/status, bounded in time and size. */
export function fetchServed(peer: PeerConfig, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: peer.address,
        port: peer.port,
        path: '/status',
        method: 'GET',
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_STATUS_BYTES) req.destroy(new Error('status too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          try {
            resolve(servedVips(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export class PeerWatcher {
  private config: PeersConfig | undefined;
  private readonly last = new Map<string, string>();
  private timer: unknown;
  private running = false;
  private stopped = false;

  constructor(private readonly options: PeerWatcherOptions) {}

  /** Sets the peers to watch (none: stops watching) and polls at once. */
  update(config: PeersConfig | undefined): void {
    this.config = config;
    const names = new Set(config?.nodes.map((n) => n.name) ?? []);
    for (const name of [...this.last.keys()]) {
      if (names.has(name)) continue;
      this.last.delete(name);
      this.options.onChange(name, []);
    }
    if (this.timer !== undefined) this.options.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.stopped && (config?.nodes.length ?? 0) > 0) void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.options.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    const config = this.config;
    if (this.running || this.stopped || config === undefined) return;
    this.running = true;
    const fetch = this.options.fetch ?? fetchServed;
    await Promise.all(
      config.nodes.map(async (peer) => {
        let serving: string[] = [];
        let error: string | undefined;
        try {
          serving = await fetch(peer, config.timeoutMs);
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        const key = `${serving.join(',')}|${error === undefined ? 'ok' : 'error'}`;
        if (this.stopped || this.last.get(peer.name) === key) return;
        this.last.set(peer.name, key);
        this.options.onChange(peer.name, serving, error);
      }),
    );
    this.running = false;
    if (this.stopped || this.config === undefined || this.config.nodes.length === 0) return;
    this.timer = this.options.timers.setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.config.intervalMs);
  }
}
