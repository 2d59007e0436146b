/**
 * Prometheus metrics of the daemon, on its own registry (nothing global). The per-VIP gauges and
 * transition counters are derived by comparing the core's state before and after each decision,
 * so they can never disagree with what `/status` shows.
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BirdProtocol } from '../runtime/bird-reply.ts';
import { checkConnectionsOpened } from './check-connections.ts';
import type { HookResult } from './hooks.ts';
import type { HealthdState, ServedState, VipState } from './types.ts';

const P = 'intentlb_healthd_';
const HEALTH_STATES: readonly VipState['health'][] = ['unknown', 'up', 'down'];

/** `ok`: accepted and read back; `refused`: a reply code or the read-back disagreed; `error`: no answer. */
export type BirdOpResult = 'ok' | 'refused' | 'error';
export type ReconcileReason = 'connect' | 'drift' | 'request';

/** Checks counted since start, and how many of them the counter already shows. */
interface CheckCount {
  ok: number;
  fail: number;
  shownOk: number;
  shownFail: number;
}

export class HealthdMetrics {
  readonly registry = new Registry();
  /** Per-VIP check counts, kept as plain numbers and handed to `checks_total` when scraped. */
  private readonly checkCounts = new Map<string, CheckCount>();
  private readonly checkDuration: Histogram<'result'>;
  private readonly checks: Counter<'vip' | 'result'>;
  private readonly vipState: Gauge<'vip' | 'state'>;
  private readonly vipAnnounced: Gauge<'vip'>;
  private readonly vipHeld: Gauge<'vip'>;
  private readonly transitions: Counter<'vip' | 'to'>;
  private readonly announcements: Counter<'vip' | 'action'>;
  private readonly drained: Gauge;
  private readonly birdConnected: Gauge;
  private readonly bgpSessionUp: Gauge<'peer'>;
  private bgpPeers = new Set<string>();
  private readonly birdOps: Counter<'result'>;
  private readonly birdOpDuration: Histogram<'result'>;
  private readonly reconciles: Counter<'reason'>;
  private readonly hookRuns: Counter<'state' | 'result'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.checkDuration = new Histogram({
      name: `${P}check_duration_seconds`,
      help: 'Duration of health checks, by result (ok, fail); per VIP, see checks_total and /status.',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const counts = this.checkCounts;
    this.checks = new Counter({
      name: `${P}checks_total`,
      help: 'Health checks run, by VIP and result (ok, fail).',
      labelNames: ['vip', 'result'],
      registers,
      collect() {
        for (const [vip, c] of counts) {
          if (c.ok > c.shownOk) this.inc({ vip, result: 'ok' }, c.ok - c.shownOk);
          if (c.fail > c.shownFail) this.inc({ vip, result: 'fail' }, c.fail - c.shownFail);
          c.shownOk = c.ok;
          c.shownFail = c.fail;
        }
      },
    });
    // The process's count when this registry started, so the counter starts at 0 with it.
    let shownConnections = checkConnectionsOpened();
    new Counter({
      name: `${P}check_connections_total`,
      help: 'TCP connections opened by the checks; HTTP checks keep one per VIP (check.reuse_ms), so far fewer than checks_total.',
      registers,
      collect() {
        const opened = checkConnectionsOpened();
        if (opened > shownConnections) this.inc(opened - shownConnections);
        shownConnections = opened;
      },
    });
    this.vipState = new Gauge({
      name: `${P}vip_state`,
      help: 'Health of each VIP as judged by its checks: 1 for the current state (unknown, up, down).',
      labelNames: ['vip', 'state'],
      registers,
    });
    this.vipAnnounced = new Gauge({
      name: `${P}vip_announced`,
      help: 'Whether healthd wants the VIP announced (1) or withdrawn (0).',
      labelNames: ['vip'],
      registers,
    });
    this.vipHeld = new Gauge({
      name: `${P}vip_held`,
      help: 'Whether the VIP is held withdrawn by `hold` (1).',
      labelNames: ['vip'],
      registers,
    });
    this.transitions = new Counter({
      name: `${P}transitions_total`,
      help: 'Health transitions of each VIP, by the state entered (up, down).',
      labelNames: ['vip', 'to'],
      registers,
    });
    this.announcements = new Counter({
      name: `${P}announcement_changes_total`,
      help: 'Announce and withdraw decisions per VIP.',
      labelNames: ['vip', 'action'],
      registers,
    });
    this.drained = new Gauge({ name: `${P}drained`, help: 'The node is drained (1).', registers });
    this.birdConnected = new Gauge({
      name: `${P}bird_connected`,
      help: "Connected to BIRD's control socket (1).",
      registers,
    });
    this.bgpSessionUp = new Gauge({
      name: `${P}bgp_session_up`,
      help: "BIRD's BGP sessions by protocol name (the peer): 1 Established, 0 not (or BIRD not connected); read every bird.poll_ms.",
      labelNames: ['peer'],
      registers,
    });
    this.birdOps = new Counter({
      name: `${P}bird_operations_total`,
      help: 'BIRD operations (one batch of enable/disable with read-back), by result (ok, refused, error).',
      labelNames: ['result'],
      registers,
    });
    this.birdOpDuration = new Histogram({
      name: `${P}bird_operation_duration_seconds`,
      help: 'Duration of BIRD operations, by result.',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.reconciles = new Counter({
      name: `${P}bird_reconciles_total`,
      help: 'Full reconciles of BIRD, by reason (connect: BIRD (re)connected; drift: BIRD differed, e.g. after configure; request: the reconcile command).',
      labelNames: ['reason'],
      registers,
    });
    this.hookRuns = new Counter({
      name: `${P}hook_runs_total`,
      help: 'Hook commands run, by state (up, down) and result (ok, failed, timeout).',
      labelNames: ['state', 'result'],
      registers,
    });
    this.drained.set(0);
    this.birdConnected.set(0);
    // The event-loop lag histogram samples every 100 ms instead of prom-client's 10 ms: 100 wake-ups
    // a second were ~6 % of a 750-VIP daemon's CPU (bench/healthd/daemon.ts); a stall still shows,
    // as the delay of the next sample.
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    }
  }

  check(vip: string, ok: boolean, latencyMs: number): void {
    const result = ok ? 'ok' : 'fail';
    this.checkDuration.observe({ result }, latencyMs / 1000);
    // 750 checks a second on a big node: a plain increment here, the labelled series at scrape time.
    let c = this.checkCounts.get(vip);
    if (c === undefined) {
      c = { ok: 0, fail: 0, shownOk: 0, shownFail: 0 };
      this.checkCounts.set(vip, c);
    }
    if (ok) c.ok++;
    else c.fail++;
  }

  birdOperation(result: BirdOpResult, seconds: number): void {
    this.birdOps.inc({ result });
    this.birdOpDuration.observe({ result }, seconds);
  }

  /** The BGP sessions among the protocols BIRD listed; a session no longer listed is dropped. */
  bgpSessions(listed: readonly BirdProtocol[]): void {
    const peers = new Set<string>();
    for (const p of listed) {
      if (p.proto !== 'BGP') continue;
      peers.add(p.name);
      this.bgpSessionUp.set({ peer: p.name }, p.state === 'up' && p.info.startsWith('Established') ? 1 : 0);
    }
    for (const old of this.bgpPeers) if (!peers.has(old)) this.bgpSessionUp.remove({ peer: old });
    this.bgpPeers = peers;
  }

  reconcile(reason: ReconcileReason): void {
    this.reconciles.inc({ reason });
  }

  hook(state: ServedState, result: HookResult): void {
    this.hookRuns.inc({ state, result });
  }

  /** Brings the gauges in line with `next` and counts what changed since `prev`. */
  sync(prev: HealthdState | undefined, next: HealthdState): void {
    this.drained.set(next.draining ? 1 : 0);
    this.birdConnected.set(next.bird.up ? 1 : 0);
    // Without BIRD no session is known to be up; the next poll after it is back says which are.
    if (!next.bird.up) for (const peer of this.bgpPeers) this.bgpSessionUp.set({ peer }, 0);
    for (const [name, v] of next.vips) {
      const before = prev?.vips.get(name);
      if (
        before !== undefined &&
        before.health === v.health &&
        before.announced === v.announced &&
        before.draining === v.draining
      ) {
        continue;
      }
      for (const s of HEALTH_STATES) this.vipState.set({ vip: name, state: s }, s === v.health ? 1 : 0);
      this.vipAnnounced.set({ vip: name }, v.announced ? 1 : 0);
      this.vipHeld.set({ vip: name }, v.draining ? 1 : 0);
      if (before !== undefined && before.health !== v.health && v.health !== 'unknown') {
        this.transitions.inc({ vip: name, to: v.health });
      }
      if (before !== undefined && before.announced !== v.announced) {
        this.announcements.inc({ vip: name, action: v.announced ? 'announce' : 'withdraw' });
      }
    }
    if (prev !== undefined) {
      for (const name of prev.vips.keys()) if (!next.vips.has(name)) this.forget(name);
    }
  }

  /** Drops a forgotten VIP's series. */
  forget(vip: string): void {
    for (const s of HEALTH_STATES) this.vipState.remove({ vip, state: s });
    this.vipAnnounced.remove({ vip });
    this.vipHeld.remove({ vip });
    for (const to of ['up', 'down']) this.transitions.remove({ vip, to });
    for (const action of ['announce', 'withdraw']) this.announcements.remove({ vip, action });
    for (const result of ['ok', 'fail']) this.checks.remove({ vip, result });
    this.checkCounts.delete(vip);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
