/**
 * The health checker daemon: the thin loop around the pure decision core (core.ts).
 *
 *   scheduler (checks) ─┐
 *   pid watcher ────────┤                        ┌─ bird link (enable/disable, read-back)
 *   bird link ──────────┼─ events ─► decideBatch ┼─ hooks (on_up / on_down)
 *   control socket ─────┤   (one batch per turn) ├─ logs (pino, JSON lines on stdout)
 *   tick timer ─────────┘                        └─ metrics, status, waiting hold/drain replies
 *
 * Events that arrive in one event-loop turn are decided together, so simultaneous changes become
 * one BIRD operation. Everything that touches the clock, sockets and processes lives here or in
 * the small modules it wires together; the core only sees events and a `now`.
 */

import { type Logger, pino } from 'pino';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { IntentlbError } from '../errors.ts';
import { BirdLink } from './bird-link.ts';
import { diffVips, type HealthdConfig, loadHealthdConfig } from './config.ts';
import { type ControlContext, handleControl } from './control-handlers.ts';
import type { ControlReply, ControlRequest, ErrorReply, ReloadReply } from './control-protocol.ts';
import { type ControlServer, startControlServer } from './control-server.ts';
import { initialState } from './core.ts';
import { EventLoop } from './event-loop.ts';
import {
  DEFAULT_KILL_GRACE_MS,
  type HookOutcome,
  HookRunner,
  hookLogFields,
  type RunCommand,
} from './hooks.ts';
import { type HttpEndpoint, startHttp } from './http.ts';
import { closeKeptConnections } from './kept-http.ts';
import { HealthdMetrics } from './metrics.ts';
import { PeerWatcher } from './peers.ts';
import { PidWatcher } from './pid-watch.ts';
import { Scheduler } from './scheduler.ts';
import { readDrain, writeStateFile } from './state-file.ts';
import { buildStatus, type HealthdStatus } from './status.ts';
import { systemTimers, type Timers } from './timers.ts';
import type { HealthdAction, HealthdEvent, HealthdState, LastCheck } from './types.ts';
import { VipStateWriter } from './vip-state.ts';
import { WithdrawWaiters } from './withdrawal.ts';

export interface DaemonOptions {
  readonly configPath: string;
  /** Where the JSON log lines go; default stdout. */
  readonly log?: { write(line: string): void };
  readonly timers?: Timers;
  /** Node's process metrics on /metrics (default true). */
  readonly defaultMetrics?: boolean;
  /** Pid file probe period (default 100 ms). */
  readonly pidIntervalMs?: number;
  /** Ceiling of the BIRD reconnect backoff (default 2000 ms). */
  readonly birdReconnectMaxMs?: number;
  /** Runs hook commands (default: spawn without a shell). */
  readonly runHook?: RunCommand;
  /**
   * Check results arriving within this many ms are decided in one batch (default 10; 0: each
   * turn of the event loop). Every other event (a process death, a command, BIRD) is decided at
   * once, and flushes the results waiting with it.
   */
  readonly checkBatchMs?: number;
}

const DEFAULT_CHECK_BATCH_MS = 10;

/** healthd.yaml has problems (diagnostics, printed as `intentlb check` prints them); nothing was started. */
export class HealthdConfigError extends IntentlbError {
  readonly diagnostics: readonly Diagnostic[];
  /** The file's text by name, for code frames. */
  readonly sources: ReadonlyMap<string, string>;
  constructor(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>) {
    super(`healthd: ${diagnostics.length} problem(s) in the configuration; not started`);
    this.diagnostics = diagnostics;
    this.sources = sources;
  }
}

export class HealthdDaemon {
  private config: HealthdConfig;
  private readonly loop: EventLoop;
  private readonly timers: Timers;
  private readonly logger: Logger;
  private readonly metrics: HealthdMetrics;
  private readonly scheduler: Scheduler;
  private readonly pids: PidWatcher;
  private readonly hooks: HookRunner;
  private readonly peers: PeerWatcher;
  private readonly waiters: WithdrawWaiters;
  private readonly opts: DaemonOptions;
  private bird: BirdLink | undefined;
  private control: ControlServer | undefined;
  private http: HttpEndpoint | undefined;
  private readonly controlContext: ControlContext;
  /**
   * The last check result of each VIP, for /status. Kept here, updated in place, not in the core's
   * state: it decides nothing, and a new state per result would cost a copy 750 times a second.
   */
  private readonly lastChecks = new Map<string, { -readonly [K in keyof LastCheck]: LastCheck[K] }>();
  private reconciles = 0;
  private lastReconcile: number | undefined;
  private readonly startedAt: number;
  private stopping: Promise<void> | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly vipState: VipStateWriter;
  private resolveDone: () => void = () => {};
  /** Resolves once the daemon has shut down. */
  readonly done: Promise<void>;

  /** Reads the configuration, binds the control socket and the HTTP endpoint, starts checking. */
  static async start(opts: DaemonOptions): Promise<HealthdDaemon> {
    const loaded = await loadHealthdConfig(opts.configPath);
    if (loaded.config === undefined) throw new HealthdConfigError(loaded.diagnostics, loaded.sources);
    const daemon = new HealthdDaemon(loaded.config, opts);
    try {
      await daemon.open();
    } catch (err) {
      await daemon.close();
      throw err;
    }
    return daemon;
  }

  private constructor(config: HealthdConfig, opts: DaemonOptions) {
    this.opts = opts;
    this.config = config;
    this.timers = opts.timers ?? systemTimers;
    this.startedAt = this.timers.now();
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.logger = pino(
      {
        base: { service: 'intentlb-healthd', node: config.node },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      opts.log ?? pino.destination({ dest: 1, sync: true }),
    );
    this.metrics = new HealthdMetrics({ defaultMetrics: opts.defaultMetrics ?? true });
    const state = initialState(config.vips, this.startedAt, { convergenceMs: config.convergeMs });
    this.metrics.sync(undefined, state);
    this.vipState = new VipStateWriter((file, error) =>
      this.logger.error({ file, error }, 'BIRD state file not written: a configure may withdraw VIPs'),
    );
    this.loop = new EventLoop({
      timers: this.timers,
      state,
      checkBatchMs: opts.checkBatchMs ?? DEFAULT_CHECK_BATCH_MS,
      execute: (action, next) => this.execute(action, next),
      changed: (prev, next) => {
        this.metrics.sync(prev, next);
        if (prev.bird.confirmed !== next.bird.confirmed || prev.bird.sent !== next.bird.sent) {
          this.writeVipState(next);
        }
      },
      decided: (next) => {
        if (this.waiters.size > 0) this.waiters.check(next);
      },
      stopping: () => this.stopping !== undefined,
    });
    this.scheduler = new Scheduler({
      timers: this.timers,
      onResult: (vip, outcome, startedAt) => {
        this.metrics.check(vip, outcome.ok, outcome.latencyMs);
        this.recordCheck(vip, outcome.ok, outcome.latencyMs, outcome.error);
        const event: HealthdEvent = {
          type: 'check-result',
          vip,
          ok: outcome.ok,
          latencyMs: outcome.latencyMs,
          startedAt,
          ...(outcome.error === undefined ? {} : { error: outcome.error }),
          ...(outcome.unknown === true ? { unknown: true } : {}),
        };
        this.post(event);
      },
    });
    this.pids = new PidWatcher({
      timers: this.timers,
      ...(opts.pidIntervalMs === undefined ? {} : { intervalMs: opts.pidIntervalMs }),
      onEvent: (vip, type, pid) => {
        this.logger.info({ vip, pid }, type === 'process-exit' ? 'process exited' : 'process running');
        this.post({ type, vip });
        if (type === 'process-start') this.scheduler.trigger(vip);
      },
      onError: this.internalError('pid watch'),
    });
    this.hooks = new HookRunner({
      config: config.hooks,
      onOutcome: (o) => this.hookOutcome(o),
      onError: this.internalError('hooks'),
      timers: this.timers,
      ...(opts.runHook === undefined ? {} : { run: opts.runHook }),
    });
    this.peers = new PeerWatcher({
      timers: this.timers,
      onChange: (peer, serving, error) => {
        if (error === undefined) this.logger.info({ peer, serving: serving.join(',') }, 'peer');
        else this.logger.warn({ peer, error }, 'peer does not answer: it serves nothing');
        this.post({ type: 'peer', peer, serving });
      },
    });
    this.waiters = new WithdrawWaiters({
      timers: this.timers,
      bird: () => this.config.mode === 'anycast',
      convergeMs: () => this.config.convergeMs,
    });
    this.controlContext = {
      timers: this.timers,
      loop: this.loop,
      waiters: this.waiters,
      logger: this.logger,
      config: () => this.config,
      bird: () => this.bird,
      stopping: () => this.stopping !== undefined,
      status: () => this.status(),
      reload: () => this.reload(),
      rememberDrain: (drained) => this.rememberDrain(drained),
    };
  }

  private get state(): HealthdState {
    return this.loop.state;
  }

  /** The bound HTTP address (the configured port may be 0). */
  get httpAddress(): { address: string; port: number } | undefined {
    return this.http === undefined ? undefined : { address: this.http.address, port: this.http.port };
  }

  get configuration(): HealthdConfig {
    return this.config;
  }

  status(): HealthdStatus {
    return buildStatus(this.state, {
      node: this.config.node,
      mode: this.config.mode,
      pid: process.pid,
      startedAt: this.startedAt,
      birdManaged: this.config.mode === 'anycast',
      birdSocket: this.config.bird.socket,
      reconciles: this.reconciles,
      ...(this.lastReconcile === undefined ? {} : { lastReconcile: this.lastReconcile }),
      wall: (t) => this.wall(t),
      now: this.timers.now(),
      pidOf: (vip) => this.pids.status(vip)?.pid,
      lastCheck: (vip) => this.lastChecks.get(vip),
    });
  }

  private recordCheck(vip: string, ok: boolean, latencyMs: number, error: string | undefined): void {
    if (!this.state.vips.has(vip)) return;
    const at = this.timers.now();
    const last = this.lastChecks.get(vip);
    if (last === undefined) {
      this.lastChecks.set(vip, error === undefined ? { at, ok, latencyMs } : { at, ok, latencyMs, error });
      return;
    }
    last.at = at;
    last.ok = ok;
    last.latencyMs = latencyMs;
    if (error === undefined) delete last.error;
    else last.error = error;
  }

  /** Answers one control request (control-handlers.ts). */
  handle(request: ControlRequest): Promise<ControlReply> {
    return handleControl(this.controlContext, request);
  }

  /** Re-reads healthd.yaml (SIGHUP, `reload`); on problems the running configuration stays. */
  reload(): Promise<ReloadReply | ErrorReply> {
    const next = this.reloading.then(() => this.reloadNow());
    this.reloading = next.catch(() => {});
    return next;
  }

  /**
   * Withdraws every VIP this daemon may have announced (a node whose checker is gone cannot prove
   * it serves), waits for BIRD's confirmation and convergence and for running hooks (each bounded),
   * then closes everything. Idempotent.
   */
  shutdown(reason: string): Promise<void> {
    this.stopping ??= this.shutdownNow(reason);
    return this.stopping;
  }

  private async open(): Promise<void> {
    const kept = readDrain(this.config.stateFile);
    if (kept.error !== undefined)
      this.logger.error({ file: this.config.stateFile, error: kept.error }, 'state file');
    if (kept.drained) {
      // Before the first check: nothing is announced until `undrain`.
      this.logger.warn(
        { since: kept.since, file: this.config.stateFile },
        'starting drained (healthd drain was not undone): `intentlb healthd undrain` announces again',
      );
      this.post({ type: 'drain' });
    }
    // Nothing is confirmed yet: every VIP disabled, for exactly this configuration's protocols.
    this.writeVipState(this.state);
    this.control = await startControlServer(this.config.control, (r) => this.handle(r));
    this.http = await startHttp(this.config.listen, this.httpRoutes());
    this.pids.update(this.config.vips);
    this.scheduler.update(this.config.vips);
    this.peers.update(this.config.peers);
    if (this.config.mode === 'anycast') this.startBird();
    this.logger.info(
      {
        vips: this.config.vips.length,
        mode: this.config.mode,
        control: this.config.control,
        listen: `${this.http.address}:${this.http.port}`,
        config: this.config.file,
      },
      'started',
    );
  }

  private httpRoutes() {
    return {
      metrics: async () => ({ contentType: this.metrics.contentType, body: await this.metrics.text() }),
      status: () => this.status(),
    };
  }

  private startBird(): void {
    const link = new BirdLink({
      config: this.config.bird,
      timers: this.timers,
      onEvent: (events) => this.post(...events),
      state: () => this.state,
      log: (level, msg, data) => this.logger[level](data ?? {}, msg),
      onOperation: (result, seconds) => this.metrics.birdOperation(result, seconds),
      onProtocols: (listed) => this.metrics.bgpSessions(listed),
      onReconcile: (reason) => {
        this.reconciles++;
        this.lastReconcile = this.timers.now();
        this.metrics.reconcile(reason);
      },
      ...(this.opts.birdReconnectMaxMs === undefined ? {} : { reconnectMaxMs: this.opts.birdReconnectMaxMs }),
    });
    this.bird = link;
    link.start();
  }

  private post(...events: HealthdEvent[]): void {
    this.loop.post(...events);
  }

  private execute(action: HealthdAction, state: HealthdState): void {
    switch (action.type) {
      case 'log':
        this.logger[action.level](
          { ...(action.vip === undefined ? {} : { vip: action.vip }), ...action.data },
          action.msg,
        );
        return;
      case 'bird':
        this.bird?.apply(action);
        return;
      case 'hook':
        this.hooks.run(action.vip, action.state, state.vips.get(action.vip)?.config.prefixes ?? [], {
          ...(action.from === undefined ? {} : { from: action.from }),
          ...(action.reason === undefined ? {} : { reason: action.reason }),
        });
        return;
      case 'forget':
        this.metrics.forget(action.vip);
        this.lastChecks.delete(action.vip);
        return;
    }
  }

  private hookOutcome(o: HookOutcome): void {
    this.metrics.hook(o.state, o.result);
    if (o.result === 'ok') this.logger.info(hookLogFields(o), 'hook ran');
    else this.logger.warn(hookLogFields(o), 'hook failed');
  }

  private async reloadNow(): Promise<ReloadReply | ErrorReply> {
    if (this.stopping !== undefined) {
      return { ok: false, cmd: 'reload', code: 'E_SHUTTING_DOWN', error: 'healthd is shutting down' };
    }
    const loaded = await loadHealthdConfig(this.config.file);
    if (loaded.config === undefined) {
      const { diagnostics } = loaded;
      this.logger.error(
        { diagnostics },
        'reload refused: configuration has problems; keeping the running one',
      );
      return {
        ok: false,
        cmd: 'reload',
        code: 'E_CONFIG',
        error: `${diagnostics.length} problem(s) in ${this.config.file}`,
        diagnostics,
      };
    }
    const old = this.config;
    const next = loaded.config;
    const { added, removed, changed } = diffVips(old.vips, next.vips);

    if (next.control !== old.control) {
      const control = await startControlServer(next.control, (r) => this.handle(r)).catch(
        (err: unknown) => err,
      );
      if (control instanceof Error) {
        this.logger.error(
          { error: control.message },
          'reload refused: cannot listen on the new control socket',
        );
        return { ok: false, cmd: 'reload', code: 'E_CONFIG', error: control.message };
      }
      const previous = this.control;
      this.control = control as ControlServer;
      // Not at once: this very request may have come through the old socket and awaits its reply.
      this.timers.setTimeout(() => {
        previous?.close().catch(this.internalError('closing the old control socket'));
      }, 1000);
    }
    if (next.listen.address !== old.listen.address || next.listen.port !== old.listen.port) {
      const http = await startHttp(next.listen, this.httpRoutes()).catch((err: unknown) => err);
      if (http instanceof Error) {
        this.logger.error(
          { error: http.message },
          'cannot listen on the new HTTP address; keeping the old one',
        );
      } else {
        const previous = this.http;
        this.http = http as HttpEndpoint;
        previous?.close().catch(this.internalError('closing the old HTTP endpoint'));
      }
    }
    this.config = next;
    this.loop.patch((s) => ({ ...s, options: { ...s.options, convergenceMs: next.convergeMs } }));
    this.hooks.update(next.hooks);
    if (old.mode === 'anycast' && next.mode !== 'anycast') {
      const link = this.bird;
      this.bird = undefined;
      await link?.stop();
      this.post({ type: 'bird-down' });
    } else if (next.mode === 'anycast' && this.bird === undefined) {
      this.startBird();
    } else {
      this.bird?.update(next.bird);
    }
    this.post({ type: 'config', vips: next.vips });
    // Before the reply: apply runs BIRD's `configure` once it has it, and the new configuration
    // reads a constant for each of the new VIPs' protocols (disabled until checked and confirmed).
    this.writeVipState(this.state);
    this.scheduler.update(next.vips);
    this.pids.update(next.vips);
    this.peers.update(next.peers);
    this.logger.info({ added, removed, changed }, 'configuration reloaded');
    return { ok: true, cmd: 'reload', added, removed, changed };
  }

  /** BIRD's VIP state file (anycast), for the running configuration's VIPs. */
  private writeVipState(state: HealthdState): void {
    if (this.config.mode !== 'anycast') return;
    this.vipState.write(this.config.bird.vipState, this.config.vips, state);
  }

  /**
   * The operator's drain, written where a restart reads it (`state` in healthd.yaml). The drain
   * of a shutdown is not: a node that stops withdraws, and announces again when it starts.
   */
  private rememberDrain(drained: boolean): void {
    const file = this.config.stateFile;
    if (file === undefined) return;
    try {
      writeStateFile(file, drained, new Date(this.timers.wall()));
    } catch (err) {
      this.logger.error(
        { file, error: err instanceof Error ? err.message : String(err) },
        'drain not remembered',
      );
    }
  }

  private async shutdownNow(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down: withdrawing every VIP');
    this.scheduler.stop();
    this.pids.stop();
    this.peers.stop();
    this.hooks.cancelRetries();
    this.waiters.cancelAll('healthd is shutting down');
    const before = this.state;
    const vips = [...before.vips.keys()];
    const bound = this.config.mode === 'anycast' ? this.config.bird.timeoutMs + 2000 : 1000;
    const withdrawn = this.waiters.wait(before, vips, () => true, bound);
    this.post({ type: 'drain' });
    const outcome = await withdrawn;
    if (outcome.ok) {
      this.logger.info(
        { vips: vips.length, waited_ms: outcome.waitedMs, converged: outcome.converged },
        'withdrawn',
      );
    } else {
      this.logger.error({ error: outcome.error }, 'could not confirm every VIP withdrawn before exiting');
    }
    // A hook at its deadline gets SIGTERM, then SIGKILL after the grace: wait for both.
    const hooks = this.config.hooks;
    await this.bounded(
      this.hooks.idle(),
      hooks.timeoutMs + (hooks.killGraceMs ?? DEFAULT_KILL_GRACE_MS) + 1000,
    );
    await this.close();
    this.logger.info('stopped');
    this.resolveDone();
  }

  private async close(): Promise<void> {
    this.loop.close();
    this.scheduler.stop();
    this.pids.stop();
    this.peers.stop();
    this.hooks.cancelRetries();
    closeKeptConnections(this.config.vips.flatMap((v) => (v.check.kind === 'http' ? [v.check] : [])));
    this.waiters.cancelAll('healthd stopped');
    await Promise.all([this.control?.close(), this.http?.close(), this.bird?.stop()]);
    this.control = undefined;
    this.http = undefined;
    this.bird = undefined;
  }

  private bounded(p: Promise<void>, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(resolve, ms);
      const settled = (): void => {
        this.timers.clearTimeout(timer);
        resolve();
      };
      p.then(settled, settled);
    });
  }

  /**
   * Where the work nobody awaits (a pid read, a hook run, closing an old socket) reports a
   * failure: a bug, logged; one part failing must not stop the daemon that keeps VIPs announced.
   */
  private internalError(where: string): (err: unknown) => void {
    return (err) =>
      this.logger.error(
        { where, error: err instanceof Error ? (err.stack ?? err.message) : String(err) },
        'internal error',
      );
  }

  /** A monotonic clock reading as an ISO wall-clock time. */
  private wall(t: number): string {
    return new Date(this.timers.wall() - (this.timers.now() - t)).toISOString();
  }
}
