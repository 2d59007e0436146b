/**
 * The health checker's decision core: `decide(state, event, now) → { state, actions }`.
 *
 * Pure: no clock, no sockets, no timers; the loop around it feeds it events (check results,
 * process exits, BIRD's answers, operator commands, ticks) and executes the actions it returns,
 * in order. The rules, in short:
 * - A VIP starts `unknown` and unannounced; `rise` consecutive successes make it `up`, `fall`
 *   consecutive failures make it `down`, a process exit makes it `down` at once.
 * - It is announced while it is up, neither the node nor the VIP is drained, it is not being
 *   removed and no hold-down (hold-down.ts) is running. Undraining one VIP (`release` after a
 *   `hold`) makes it earn `rise` fresh successes first; a node-wide undrain does not.
 * - All BIRD changes of one call are coalesced into one `bird` action; nothing is sent while BIRD
 *   is not connected, and `bird-up` sends the whole desired set (reconcile).
 * - Order of operations: a removed VIP is withdrawn first and reported as `forget` (stop the
 *   instance) only once BIRD confirmed the withdraw and `convergenceMs` passed. A new VIP is
 *   announced only after its checks pass, i.e. after its instance serves.
 * - Hooks report the VIP's served state (announced = up), once per change, so they move traffic
 *   (an elastic IP, a pf table) exactly when the route moves, drains included.
 */

import { Draft } from './draft.ts';
import { holdDownFor } from './hold-down.ts';
import type {
  CoreOptions,
  Decision,
  HealthdEvent,
  HealthdEventType,
  HealthdState,
  VipConfig,
  VipState,
} from './types.ts';

export const DEFAULT_CORE_OPTIONS: CoreOptions = { convergenceMs: 2000, birdRetryMs: 1000 };

/** The state before any event: the configured VIPs unknown and unannounced, BIRD not connected. */
export function initialState(
  vips: readonly VipConfig[],
  now: number,
  options: Partial<CoreOptions> = {},
): HealthdState {
  const map = new Map<string, VipState>();
  for (const config of vips) map.set(config.name, freshVip(config, now));
  return {
    vips: map,
    draining: false,
    bird: { up: false, sent: new Map(), confirmed: new Map(), orphans: new Set() },
    options: { ...DEFAULT_CORE_OPTIONS, ...options },
  };
}

/**
 * Apply one event. Each call copies the VIP map once (about 50 µs at 750 VIPs), so a loop should
 * gather what arrives in one turn (check results especially) and call decideBatch() instead.
 */
export function decide(state: HealthdState, event: HealthdEvent, now: number): Decision {
  return decideBatch(state, [event], now);
}

/**
 * Apply several events that happened in the same instant (e.g. the check results of one loop
 * turn), in order, with all their BIRD changes coalesced into a single `bird` action.
 */
export function decideBatch(state: HealthdState, events: readonly HealthdEvent[], now: number): Decision {
  const draft = new Draft(state, now);
  for (const event of events) {
    const handler = Object.hasOwn(handlers, event.type)
      ? (handlers[event.type] as (d: Draft, e: HealthdEvent) => void)
      : undefined;
    if (handler === undefined) draft.log('warn', 'unknown event', undefined, { type: String(event.type) });
    else handler(draft, event);
  }
  return draft.finish();
}

/**
 * When the core next needs a `tick`: the earliest hold-down expiry of a healthy VIP that is not
 * drained, removal readiness or BIRD retry. `undefined` when nothing waits on time.
 */
export function nextDeadline(state: HealthdState): number | undefined {
  let next: number | undefined;
  const consider = (t: number | undefined) => {
    if (t !== undefined && (next === undefined || t < next)) next = t;
  };
  for (const v of state.vips.values()) {
    // A drained or held VIP waits for an operator, not for time: its expired hold-down is no deadline.
    const waits =
      v.health === 'up' && !v.announced && v.removal === undefined && !v.draining && !state.draining;
    if (waits) consider(v.holdUntil);
    consider(v.removal?.readyAt);
  }
  consider(state.bird.retryAt);
  return next;
}

function freshVip(config: VipConfig, now: number): VipState {
  return {
    config,
    health: 'unknown',
    okStreak: 0,
    failStreak: 0,
    announced: false,
    since: now,
    lastChange: now,
    holdUntil: now,
    flaps: 0,
    draining: false,
    epoch: now,
    process: 'unknown',
  };
}

type Handlers = { [K in HealthdEventType]: (d: Draft, e: Extract<HealthdEvent, { type: K }>) => void };

const handlers: Handlers = {
  'check-result'(d, e) {
    const v = d.vips.get(e.vip);
    if (v === undefined || v.removal !== undefined) return;
    if (e.startedAt !== undefined && e.startedAt < v.epoch) return; // began before the process changed
    // Streaks count up to what a decision needs (rise, fall), so the usual result, one more
    // success of a VIP that is up, changes nothing: no new state, no copy (750 of them a second
    // on a big node).
    const rise = Math.max(1, v.config.rise);
    const fall = Math.max(1, v.config.fall);
    if (e.unknown === true) {
      // UNKNOWN is no evidence either way: the VIP keeps its health, but must earn `rise` again.
      if (v.okStreak !== 0) d.setVip({ ...v, okStreak: 0 });
      return;
    }
    const okStreak = e.ok ? Math.min(v.okStreak + 1, rise) : 0;
    const failStreak = e.ok ? 0 : Math.min(v.failStreak + 1, fall);
    let next = v.okStreak === okStreak && v.failStreak === failStreak ? v : { ...v, okStreak, failStreak };
    let why = 'check';
    if (e.ok && v.health !== 'up' && okStreak >= rise) {
      why = 'rise';
      next = setHealth(d, next, 'up', why);
    } else if (!e.ok && v.health !== 'down' && failStreak >= fall) {
      why = e.error === undefined ? 'fall' : `fall: ${e.error}`;
      next = setHealth(d, next, 'down', why);
    }
    if (next !== v) d.setVip(next);
    evaluate(d, e.vip, why);
  },

  'process-exit'(d, e) {
    const v = d.vips.get(e.vip);
    if (v === undefined || v.removal !== undefined) return;
    let next: VipState = { ...v, okStreak: 0, failStreak: 0, epoch: d.now, process: 'exited' };
    if (v.health !== 'down') next = setHealth(d, next, 'down', 'process-exit');
    d.setVip(next);
    evaluate(d, e.vip, 'process-exit');
  },

  'process-start'(d, e) {
    const v = d.vips.get(e.vip);
    if (v === undefined || v.removal !== undefined) return;
    // A new process earns its announcement from its own checks.
    const okStreak = v.health === 'up' ? v.okStreak : 0;
    d.setVip({ ...v, okStreak, epoch: d.now, process: 'running' });
    d.log('info', 'process started', e.vip);
  },

  'bird-up'(d, e) {
    d.birdUp = true;
    d.resetBird();
    d.reconcile = true;
    d.log(
      'info',
      e.reason === undefined || e.reason === 'connect'
        ? 'bird connected: reconciling'
        : `bird reconcile (${e.reason})`,
    );
  },

  'bird-down'(d) {
    d.birdUp = false;
    d.resetBird();
    d.reconcile = false;
    d.log('warn', 'bird disconnected');
  },

  'bird-result'(d, e) {
    if (e.ok) {
      for (const { protocol, enabled } of e.changes) {
        if (!d.sent.has(protocol)) continue; // forgotten meanwhile
        d.confirm(protocol, enabled);
        if (!enabled && d.orphans.has(protocol)) {
          d.deleteOrphan(protocol);
          d.unsend(protocol);
          d.confirm(protocol, undefined);
        }
      }
      const touched = new Set(e.changes.map((c) => c.protocol));
      for (const v of [...d.vips.values()]) {
        if (v.removal !== undefined && v.config.protocols.some((p) => touched.has(p))) {
          checkRemoval(d, v.config.name);
        }
      }
      return;
    }
    for (const { protocol, enabled } of e.changes) {
      if (d.sent.get(protocol) === enabled) d.unsend(protocol);
      d.confirm(protocol, undefined);
    }
    if (d.birdUp) d.retryAt = d.now + d.options.birdRetryMs;
    d.log('warn', 'bird refused changes', undefined, {
      error: e.error ?? 'unknown',
      protocols: e.changes.map((c) => c.protocol).join(','),
    });
  },

  peer(d, e) {
    const serving = new Set(e.serving);
    for (const v of [...d.vips.values()]) {
      const was = v.yielding ?? [];
      const now = serving.has(v.config.name);
      if (was.includes(e.peer) === now) continue;
      const yielding = now ? [...was, e.peer].sort() : was.filter((p) => p !== e.peer);
      d.setVip({ ...v, yielding });
      d.log(
        'info',
        now ? 'standby: a preferred peer serves it' : 'preferred peer stopped serving it',
        v.config.name,
        {
          peer: e.peer,
        },
      );
      evaluate(d, v.config.name, now ? `peer ${e.peer} serves it` : `peer ${e.peer} stopped serving it`);
    }
  },

  drain(d, e) {
    setDrain(d, e.vip, true);
  },

  undrain(d, e) {
    setDrain(d, e.vip, false);
  },

  tick(d) {
    for (const name of [...d.vips.keys()]) {
      const v = d.vips.get(name);
      if (v?.removal !== undefined) checkRemoval(d, name);
      else evaluate(d, name, 'hold-down expired');
    }
    if (d.retryAt !== undefined && d.now >= d.retryAt && d.birdUp) {
      d.retryAt = undefined;
      for (const [protocol, enabled] of d.desiredProtocols()) d.request(protocol, enabled);
    }
  },

  config(d, e) {
    const wanted = new Map(e.vips.map((c) => [c.name, c]));
    for (const [name, v] of [...d.vips]) {
      if (!wanted.has(name) && v.removal === undefined) startRemoval(d, v);
    }
    for (const config of wanted.values()) {
      const v = d.vips.get(config.name);
      if (v === undefined || v.removal !== undefined) {
        // Re-added while its removal was still running: a new VIP, but the hooks have already been
        // told its last state (`down`, by the removal); they hear only changes from there.
        const fresh = freshVip(config, d.now);
        d.setVip(v?.reported === undefined ? fresh : { ...fresh, reported: v.reported });
        d.log('info', v === undefined ? 'vip added' : 'vip re-added', config.name);
        for (const p of config.protocols) {
          d.deleteOrphan(p);
          d.request(p, false);
        }
        continue;
      }
      const dropped = v.config.protocols.filter((p) => !config.protocols.includes(p));
      for (const p of dropped) {
        d.addOrphan(p);
        d.request(p, false);
      }
      for (const p of config.protocols) {
        d.deleteOrphan(p);
        d.request(p, v.announced);
      }
      d.setVip({ ...v, config });
      evaluate(d, config.name, 'config');
    }
  },
};

function setHealth(d: Draft, v: VipState, health: VipState['health'], reason: string): VipState {
  const data: Record<string, string | number | boolean> = { from: v.health, to: health, reason };
  if (health === 'up' && v.holdUntil > d.now) data.holdUntil = v.holdUntil;
  d.log(health === 'up' ? 'info' : 'warn', 'health', v.config.name, data);
  return { ...v, health, since: d.now };
}

/** Bring the VIP's announcement, BIRD request and hook in line with its state. */
function evaluate(d: Draft, name: string, reason: string): void {
  const before = d.vips.get(name);
  if (before === undefined) return;
  let v = before;
  const want =
    v.health === 'up' &&
    !d.draining &&
    !v.draining &&
    v.removal === undefined &&
    d.now >= v.holdUntil &&
    (v.yielding === undefined || v.yielding.length === 0);
  if (want !== v.announced) {
    if (want) {
      v = { ...v, announced: true, lastChange: d.now, announcedAt: d.now };
      d.log('info', 'announce', name, { reason });
    } else if (v.health !== 'up') {
      const hold = holdDownFor(v.config, v.flaps, v.announcedAt, d.now);
      v = { ...v, announced: false, lastChange: d.now, holdUntil: d.now + hold.holdMs, flaps: hold.flaps };
      d.log('warn', 'withdraw', name, { reason, holdMs: hold.holdMs, flaps: hold.flaps });
    } else {
      v = { ...v, announced: false, lastChange: d.now };
      d.log('info', 'withdraw', name, { reason });
    }
    for (const p of v.config.protocols) d.request(p, v.announced);
  }
  if (v.health !== 'unknown' || v.announced) {
    const served = v.announced ? 'up' : 'down';
    if (served !== v.reported) {
      const from = v.reported ?? 'unknown';
      v = { ...v, reported: served };
      d.hook(name, served, from, reason);
    }
  }
  if (v !== before) d.setVip(v);
}

function setDrain(d: Draft, vip: string | undefined, draining: boolean): void {
  const verb = draining ? 'drain' : 'undrain';
  if (vip === undefined) {
    if (d.draining === draining) return;
    d.draining = draining;
    d.log('info', verb);
    for (const name of [...d.vips.keys()]) evaluate(d, name, verb);
    return;
  }
  const v = d.vips.get(vip);
  if (v === undefined) {
    d.log('warn', `${verb}: unknown vip`, vip);
    return;
  }
  if (v.draining === draining) return;
  if (!draining && v.health === 'up') {
    // A release ends a hold that usually covered a restart: the instance earns its announcement
    // again with `rise` fresh checks (results of checks begun before now are dropped).
    d.setVip({ ...v, draining, health: 'unknown', okStreak: 0, failStreak: 0, since: d.now, epoch: d.now });
    d.log('info', verb, vip, { recheck: true });
  } else {
    d.setVip({ ...v, draining });
    d.log('info', verb, vip);
  }
  evaluate(d, vip, verb);
}

function startRemoval(d: Draft, v: VipState): void {
  const converge = v.announced || v.config.protocols.some((p) => d.confirmed.get(p) !== false);
  d.setVip({ ...v, removal: { since: d.now, converge } });
  d.log('info', 'vip removed: withdrawing', v.config.name);
  evaluate(d, v.config.name, 'removed');
  for (const p of v.config.protocols) d.request(p, false);
  checkRemoval(d, v.config.name);
}

/** Forget a removed VIP once BIRD confirmed it withdrawn and the network had time to converge. */
function checkRemoval(d: Draft, name: string): void {
  let v = d.vips.get(name);
  if (v?.removal === undefined) return;
  if (v.removal.readyAt === undefined) {
    const withdrawn = v.config.protocols.every(
      (p) => d.confirmed.get(p) === false && d.sent.get(p) === false,
    );
    if (!withdrawn) return;
    const readyAt = d.now + (v.removal.converge ? d.options.convergenceMs : 0);
    v = { ...v, removal: { ...v.removal, readyAt } };
    d.setVip(v);
  }
  if (v.removal?.readyAt === undefined || d.now < v.removal.readyAt) return;
  d.deleteVip(name);
  for (const p of v.config.protocols) {
    d.unsend(p);
    d.confirm(p, undefined);
  }
  d.log('info', 'vip forgotten', name);
  d.forget(name);
}
