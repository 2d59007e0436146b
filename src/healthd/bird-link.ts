/**
 * healthd's side of BIRD: one control-socket connection, kept up, through which the core's `bird`
 * actions are carried out and judged.
 *
 * - **Coalescing.** The core emits at most one action per decision; while a BIRD operation is on
 *   the wire, further actions are merged (last value per protocol wins) into the next one. Each
 *   operation is one pipelined batch of enable/disable commands with a `show protocols` read-back.
 * - **Judging.** A change counts only when BIRD's reply code accepted it and the read-back shows
 *   the protocol in the asked state; the core gets one `bird-result` for the confirmed changes and
 *   one for the rest (refused: retried after `birdRetryMs`).
 * - **Reconcile.** Every (re)connection is a `bird-up` (BIRD restarted: every protocol is back to
 *   its configured `disabled`). `configure` does the same without closing the socket, so every
 *   `pollMs` the protocols BIRD lists are compared with what it confirmed; any difference (or a
 *   managed protocol missing) is treated as a restart: `bird-up`, i.e. a full reconcile.
 * - **Generations.** Each connection and each reconcile starts a generation; a late answer to an
 *   operation of an older one is dropped, since the reconcile after it covers every protocol.
 */

import {
  BirdClient,
  BirdConnectionError,
  type BirdProtocol,
  type ProtocolSetResult,
  replyMessage,
} from '../runtime/bird-client.ts';
import type { BirdLinkConfig } from './config.ts';
import type { BirdOpResult, ReconcileReason } from './metrics.ts';
import type { Timers } from './timers.ts';
import type { BirdAction, BirdChange, HealthdEvent, HealthdState } from './types.ts';

export type LinkLog = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  data?: Record<string, string | number | boolean>,
) => void;

export interface BirdLinkOptions {
  readonly config: BirdLinkConfig;
  readonly timers: Timers;
  /** bird-up, bird-down and bird-result events for the core. */
  readonly onEvent: (events: HealthdEvent[]) => void;
  /** The core's current state (for the drift comparison). */
  readonly state: () => HealthdState;
  readonly log: LinkLog;
  readonly onOperation?: (result: BirdOpResult, seconds: number) => void;
  readonly onReconcile?: (reason: ReconcileReason) => void;
  /** Every protocol BIRD listed at a poll (e.g. for the BGP session gauges). */
  readonly onProtocols?: (listed: readonly BirdProtocol[]) => void;
  readonly connect?: (socket: string, timeoutMs: number) => Promise<BirdClient>;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/**
 * Protocols whose BIRD state disagrees with what BIRD last confirmed to healthd. Only protocols
 * at rest (last request confirmed) are compared, so an operation still in flight is no drift.
 */
export function findDrift(state: HealthdState, listed: readonly BirdProtocol[]): string[] {
  const byName = new Map(listed.map((p) => [p.name, p.state]));
  const drift: string[] = [];
  for (const [protocol, confirmed] of state.bird.confirmed) {
    if (state.bird.sent.get(protocol) !== confirmed) continue;
    const actual = byName.get(protocol);
    const agrees =
      actual !== undefined &&
      (confirmed
        ? actual === 'up' || actual === 'start'
        : actual === 'down' || actual === 'flush' || actual === 'stop');
    if (!agrees) drift.push(protocol);
  }
  return drift.sort();
}

/** The core's events for one operation's outcome: confirmed changes, and refused ones with the reason. */
export function judgeOperation(
  changes: readonly BirdChange[],
  results: readonly ProtocolSetResult[],
): HealthdEvent[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const confirmed: BirdChange[] = [];
  const refused: BirdChange[] = [];
  const reasons: string[] = [];
  for (const c of changes) {
    const r = byName.get(c.protocol);
    if (r?.ok === true && r.confirmed) {
      confirmed.push(c);
      continue;
    }
    refused.push(c);
    if (r === undefined) reasons.push(`${c.protocol}: no reply`);
    else if (!r.ok)
      reasons.push(`${c.protocol}: ${String(r.code).padStart(4, '0')} ${r.error ?? replyMessage(r.reply)}`);
    else
      reasons.push(`${c.protocol}: read back ${r.state ?? 'missing'}, wanted ${c.enabled ? 'up' : 'down'}`);
  }
  const events: HealthdEvent[] = [];
  if (confirmed.length > 0) events.push({ type: 'bird-result', ok: true, changes: confirmed });
  if (refused.length > 0)
    events.push({ type: 'bird-result', ok: false, changes: refused, error: reasons.join('; ') });
  return events;
}

export class BirdLink {
  private config: BirdLinkConfig;
  private readonly opts: BirdLinkOptions;
  private readonly connectFn: (socket: string, timeoutMs: number) => Promise<BirdClient>;
  private client: BirdClient | undefined;
  private generation = 0;
  private readonly pending = new Map<string, boolean>();
  private inFlight = false;
  private polling = false;
  private pollTimer: unknown;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: BirdLinkOptions) {
    this.opts = opts;
    this.config = opts.config;
    this.connectFn = opts.connect ?? ((socket, timeoutMs) => BirdClient.connect(socket, { timeoutMs }));
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      // A bug ended the loop: log it, drop the connection and start over after a pause, rather
      // than leave BIRD unmanaged (the reconnect is a reconcile).
      this.internalError(err);
      this.client?.close();
      this.client = undefined;
      if (this.pollTimer !== undefined) this.opts.timers.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
      this.loop = undefined;
      if (this.stopped) return;
      // sleep() never rejects, and start() does not throw.
      void this.sleep(this.opts.reconnectMinMs ?? 200).then(() => {
        if (!this.stopped) this.start();
      });
    });
  }

  /** Closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.client?.close();
    this.wake?.();
    if (this.pollTimer !== undefined) this.opts.timers.clearTimeout(this.pollTimer);
    await this.loop;
  }

  /** A new socket path or timing: reconnects when the socket changed. */
  update(config: BirdLinkConfig): void {
    const reconnect = config.socket !== this.config.socket || config.timeoutMs !== this.config.timeoutMs;
    this.config = config;
    if (reconnect) this.client?.close();
  }

  /** Carries out a core `bird` action (merged into the next operation if one is on the wire). */
  apply(action: BirdAction): void {
    if (this.client === undefined) return; // the core reconciles on the next bird-up
    for (const c of action.changes) this.pending.set(c.protocol, c.enabled);
    this.flush().catch(this.internalError);
  }

  /** A full reconcile now (e.g. right after someone ran `configure`); false when not connected. */
  reconcile(): boolean {
    if (this.client === undefined) return false;
    this.generation++;
    this.pending.clear();
    this.opts.onReconcile?.('request');
    this.opts.onEvent([{ type: 'bird-up', reason: 'request' }]);
    return true;
  }

  /** Resolves when no operation is on the wire or waiting. */
  idle(): Promise<void> {
    if (!this.inFlight && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async flush(): Promise<void> {
    const client = this.client;
    if (this.inFlight || client === undefined || this.pending.size === 0) {
      if (!this.inFlight && this.pending.size === 0) this.notifyIdle();
      return;
    }
    const changes: BirdChange[] = [...this.pending]
      .map(([protocol, enabled]) => ({ protocol, enabled }))
      .sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
    this.pending.clear();
    this.inFlight = true;
    const generation = this.generation;
    const began = this.opts.timers.now();
    let events: HealthdEvent[];
    let result: BirdOpResult;
    try {
      const res = await client.setProtocols(changes.map((c) => ({ name: c.protocol, enabled: c.enabled })));
      events = judgeOperation(changes, res.results);
      result = res.ok ? 'ok' : 'refused';
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      events = [{ type: 'bird-result', ok: false, changes, error }];
      result = err instanceof BirdConnectionError ? 'error' : 'refused';
    }
    this.inFlight = false;
    this.opts.onOperation?.(result, (this.opts.timers.now() - began) / 1000);
    if (result !== 'ok') {
      const error = events.find((e) => e.type === 'bird-result' && !e.ok);
      this.opts.log('warn', 'bird operation failed', {
        result,
        changes: changes.length,
        error: error?.type === 'bird-result' ? (error.error ?? '') : '',
      });
    }
    if (generation === this.generation) this.opts.onEvent(events);
    this.flush().catch(this.internalError);
  }

  /** What nobody awaits (the loop, an operation, a poll) reports a failure here: a bug, logged. */
  private readonly internalError = (err: unknown): void => {
    this.opts.log('error', 'internal error', {
      where: 'bird link',
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  };

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async run(): Promise<void> {
    const min = this.opts.reconnectMinMs ?? 200;
    const max = this.opts.reconnectMaxMs ?? 2000;
    let backoff = min;
    let failingSince: number | undefined;
    let lastFailureLog = Number.NEGATIVE_INFINITY;
    while (!this.stopped) {
      let client: BirdClient;
      try {
        client = await this.connectFn(this.config.socket, this.config.timeoutMs);
      } catch (err) {
        const now = this.opts.timers.now();
        failingSince ??= now;
        if (now - lastFailureLog >= 60_000) {
          lastFailureLog = now;
          this.opts.log('warn', 'bird unreachable', {
            socket: this.config.socket,
            error: err instanceof Error ? err.message : String(err),
            for_ms: Math.round(now - failingSince),
          });
        }
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, max);
        continue;
      }
      if (this.stopped) {
        client.close();
        break;
      }
      backoff = min;
      failingSince = undefined;
      lastFailureLog = Number.NEGATIVE_INFINITY;
      this.client = client;
      this.generation++;
      this.pending.clear();
      this.opts.log('info', 'bird connected', { socket: this.config.socket, greeting: client.greeting });
      this.opts.onReconcile?.('connect');
      this.opts.onEvent([{ type: 'bird-up', reason: 'connect' }]);
      this.armPoll();
      await client.closed;
      this.client = undefined;
      this.generation++;
      this.pending.clear();
      if (this.pollTimer !== undefined) this.opts.timers.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
      if (this.stopped) break;
      this.opts.log('warn', 'bird connection lost', { socket: this.config.socket });
      this.opts.onEvent([{ type: 'bird-down' }]);
      await this.sleep(min);
    }
    this.notifyIdle();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.opts.timers.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.opts.timers.clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private armPoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.opts.timers.setTimeout(() => {
      this.pollTimer = undefined;
      const next = (): void => {
        if (this.client !== undefined) this.armPoll();
      };
      this.poll().then(next, (err: unknown) => {
        this.internalError(err);
        next();
      });
    }, this.config.pollMs);
  }

  /** Compares BIRD's protocols with what it confirmed; a difference means a reconcile. */
  private async poll(): Promise<void> {
    const client = this.client;
    if (client === undefined || this.polling || this.inFlight || this.pending.size > 0) return;
    this.polling = true;
    const generation = this.generation;
    try {
      const listed = await client.showProtocols();
      if (generation !== this.generation || this.client !== client) return;
      this.opts.onProtocols?.(listed);
      const drift = findDrift(this.opts.state(), listed);
      if (drift.length === 0) return;
      const states = new Map(listed.map((p) => [p.name, p.state]));
      this.opts.log(
        'warn',
        'bird state differs from what it confirmed (configure or a manual change): reconciling',
        {
          protocols: drift.map((p) => `${p}=${states.get(p) ?? 'missing'}`).join(','),
        },
      );
      this.generation++;
      this.pending.clear();
      this.opts.onReconcile?.('drift');
      this.opts.onEvent([{ type: 'bird-up', reason: 'drift' }]);
    } catch (err) {
      if (!(err instanceof BirdConnectionError)) {
        this.opts.log('warn', 'bird poll failed', {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    } finally {
      this.polling = false;
    }
  }
}
