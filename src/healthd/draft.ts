/**
 * A mutable working copy of the core's state for one decide() call: copy-on-write maps, the BIRD
 * changes requested so far (coalesced per protocol) and the actions collected. The decision
 * rules in core.ts read and write it; `finish()` turns it back into immutable state and one
 * ordered action list.
 */

import type {
  BirdChange,
  Decision,
  ForgetAction,
  HealthdAction,
  HealthdState,
  HookAction,
  LogAction,
  LogLevel,
  ServedState,
  VipState,
} from './types.ts';

export class Draft {
  readonly now: number;
  readonly options: HealthdState['options'];
  draining: boolean;
  birdUp: boolean;
  retryAt: number | undefined;
  /** Set by bird-up: the bird action lists every managed protocol. */
  reconcile = false;

  private vipMap: ReadonlyMap<string, VipState>;
  private sentMap: ReadonlyMap<string, boolean>;
  private confirmedMap: ReadonlyMap<string, boolean>;
  private orphanSet: ReadonlySet<string>;
  private readonly copied = { vips: false, sent: false, confirmed: false, orphans: false };

  /** Protocols changed in this call, with the value requested before it (to drop no-ops). */
  private readonly before = new Map<string, boolean | undefined>();
  private readonly logs: LogAction[] = [];
  private readonly hooks: HookAction[] = [];
  private readonly forgets: ForgetAction[] = [];

  private readonly original: HealthdState;

  constructor(state: HealthdState, now: number) {
    this.original = state;
    this.now = now;
    this.options = state.options;
    this.draining = state.draining;
    this.birdUp = state.bird.up;
    this.retryAt = state.bird.retryAt;
    this.vipMap = state.vips;
    this.sentMap = state.bird.sent;
    this.confirmedMap = state.bird.confirmed;
    this.orphanSet = state.bird.orphans;
  }

  get vips(): ReadonlyMap<string, VipState> {
    return this.vipMap;
  }
  get sent(): ReadonlyMap<string, boolean> {
    return this.sentMap;
  }
  get confirmed(): ReadonlyMap<string, boolean> {
    return this.confirmedMap;
  }
  get orphans(): ReadonlySet<string> {
    return this.orphanSet;
  }

  setVip(v: VipState): void {
    this.mutVips().set(v.config.name, v);
  }
  deleteVip(name: string): void {
    this.mutVips().delete(name);
  }

  /** Ask BIRD for `enabled` on `protocol`, unless that is what it was last asked. */
  request(protocol: string, enabled: boolean): void {
    if (!this.birdUp || this.sentMap.get(protocol) === enabled) return;
    if (!this.before.has(protocol)) this.before.set(protocol, this.sentMap.get(protocol));
    this.mutSent().set(protocol, enabled);
  }

  /** Forget what was requested (BIRD refused or went away): the next request is sent again. */
  unsend(protocol: string): void {
    if (this.sentMap.has(protocol)) this.mutSent().delete(protocol);
  }
  confirm(protocol: string, enabled: boolean | undefined): void {
    if (this.confirmedMap.get(protocol) === enabled) return;
    if (enabled === undefined) this.mutConfirmed().delete(protocol);
    else this.mutConfirmed().set(protocol, enabled);
  }
  /** BIRD's state is unknown again: nothing sent, nothing confirmed, nothing pending. */
  resetBird(): void {
    this.sentMap = new Map();
    this.confirmedMap = new Map();
    this.copied.sent = true;
    this.copied.confirmed = true;
    this.before.clear();
    this.retryAt = undefined;
  }
  addOrphan(protocol: string): void {
    if (!this.orphanSet.has(protocol)) this.mutOrphans().add(protocol);
  }
  deleteOrphan(protocol: string): void {
    if (this.orphanSet.has(protocol)) this.mutOrphans().delete(protocol);
  }

  log(level: LogLevel, msg: string, vip?: string, data?: Record<string, string | number | boolean>): void {
    const entry: { -readonly [K in keyof LogAction]: LogAction[K] } = { type: 'log', level, msg };
    if (vip !== undefined) entry.vip = vip;
    if (data !== undefined) entry.data = data;
    this.logs.push(entry);
  }
  hook(vip: string, state: ServedState, from: ServedState | 'unknown', reason: string): void {
    this.hooks.push({ type: 'hook', vip, state, from, reason });
  }
  forget(vip: string): void {
    this.forgets.push({ type: 'forget', vip });
  }

  /** The desired value of every managed protocol: its VIP's announcement, orphans disabled. */
  desiredProtocols(): Map<string, boolean> {
    const out = new Map<string, boolean>();
    for (const v of this.vipMap.values()) for (const p of v.config.protocols) out.set(p, v.announced);
    for (const p of this.orphanSet) if (!out.has(p)) out.set(p, false);
    return out;
  }

  finish(): Decision {
    const changes: BirdChange[] = [];
    if (this.birdUp && this.reconcile) {
      const sent = new Map<string, boolean>();
      for (const [protocol, enabled] of this.desiredProtocols()) {
        sent.set(protocol, enabled);
        changes.push({ protocol, enabled });
      }
      this.sentMap = sent;
      this.retryAt = undefined;
    } else if (this.birdUp) {
      for (const [protocol, was] of this.before) {
        const enabled = this.sentMap.get(protocol);
        if (enabled !== undefined && enabled !== was) changes.push({ protocol, enabled });
      }
    }
    changes.sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));

    const actions: HealthdAction[] = [...this.logs];
    if (changes.length > 0) actions.push({ type: 'bird', changes, reconcile: this.reconcile });
    actions.push(...this.hooks, ...this.forgets);

    const o = this.original;
    const unchanged =
      this.vipMap === o.vips &&
      this.sentMap === o.bird.sent &&
      this.confirmedMap === o.bird.confirmed &&
      this.orphanSet === o.bird.orphans &&
      this.draining === o.draining &&
      this.birdUp === o.bird.up &&
      this.retryAt === o.bird.retryAt;
    // Nothing changed (the usual check result): the same state object, so callers can skip work.
    if (unchanged) return { state: o, actions };
    const bird: { -readonly [K in keyof HealthdState['bird']]: HealthdState['bird'][K] } = {
      up: this.birdUp,
      sent: this.sentMap,
      confirmed: this.confirmedMap,
      orphans: this.orphanSet,
    };
    if (this.retryAt !== undefined) bird.retryAt = this.retryAt;
    return {
      state: { vips: this.vipMap, draining: this.draining, bird, options: this.options },
      actions,
    };
  }

  private mutVips(): Map<string, VipState> {
    if (!this.copied.vips) {
      this.vipMap = new Map(this.vipMap);
      this.copied.vips = true;
    }
    return this.vipMap as Map<string, VipState>;
  }
  private mutSent(): Map<string, boolean> {
    if (!this.copied.sent) {
      this.sentMap = new Map(this.sentMap);
      this.copied.sent = true;
    }
    return this.sentMap as Map<string, boolean>;
  }
  private mutConfirmed(): Map<string, boolean> {
    if (!this.copied.confirmed) {
      this.confirmedMap = new Map(this.confirmedMap);
      this.copied.confirmed = true;
    }
    return this.confirmedMap as Map<string, boolean>;
  }
  private mutOrphans(): Set<string> {
    if (!this.copied.orphans) {
      this.orphanSet = new Set(this.orphanSet);
      this.copied.orphans = true;
    }
    return this.orphanSet as Set<string>;
  }
}
