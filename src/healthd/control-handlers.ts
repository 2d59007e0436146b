/**
 * The daemon's answers to control requests (protocol in control-protocol.ts): hold, release,
 * drain, undrain, reconcile and reload. Each posts events to the event loop and, where the
 * request promises it, waits for the decision it asked for (BIRD's confirmation, convergence).
 */

import type { Logger } from 'pino';
import type { BirdLink } from './bird-link.ts';
import type { HealthdConfig } from './config.ts';
import type {
  ControlReply,
  ControlRequest,
  ErrorReply,
  ReconcileReply,
  ReloadReply,
  ResumeReply,
  WithdrawReply,
} from './control-protocol.ts';
import type { EventLoop } from './event-loop.ts';
import type { HealthdStatus } from './status.ts';
import type { Timers } from './timers.ts';
import { birdSettled, type WithdrawWaiters } from './withdrawal.ts';

/** Default bound of `hold` / `drain` when the request names none. */
const DEFAULT_WITHDRAW_TIMEOUT_MS = 30_000;

/** What the handlers need of the daemon. */
export interface ControlContext {
  readonly timers: Timers;
  readonly loop: EventLoop;
  readonly waiters: WithdrawWaiters;
  readonly logger: Logger;
  config(): HealthdConfig;
  bird(): BirdLink | undefined;
  /** The daemon is shutting down. */
  stopping(): boolean;
  status(): HealthdStatus;
  reload(): Promise<ReloadReply | ErrorReply>;
  /** Writes the operator's drain where a restart reads it. */
  rememberDrain(drained: boolean): void;
}

/** Answers one control request. */
export async function handleControl(ctx: ControlContext, request: ControlRequest): Promise<ControlReply> {
  if (request.cmd === 'status') return { ok: true, cmd: 'status', status: ctx.status() };
  if (ctx.stopping()) {
    return { ok: false, cmd: request.cmd, code: 'E_SHUTTING_DOWN', error: 'healthd is shutting down' };
  }
  ctx.logger.info({ request }, 'control request');
  switch (request.cmd) {
    case 'hold':
      return hold(ctx, request.vip, request.timeout_ms ?? DEFAULT_WITHDRAW_TIMEOUT_MS);
    case 'release':
      return release(ctx, request.vip);
    case 'drain':
      return drain(ctx, request.timeout_ms ?? DEFAULT_WITHDRAW_TIMEOUT_MS);
    case 'undrain':
      return undrain(ctx);
    case 'reload':
      return ctx.reload();
    case 'reconcile':
      return reconcile(ctx, request.timeout_ms ?? DEFAULT_WITHDRAW_TIMEOUT_MS);
  }
}

/**
 * Re-sends the whole desired state to BIRD now (e.g. right after deploy ran `birdc configure`,
 * which resets every VIP protocol to `disabled`) and answers once BIRD confirmed it.
 */
async function reconcile(ctx: ControlContext, timeoutMs: number): Promise<ReconcileReply | ErrorReply> {
  const bird = ctx.bird();
  const config = ctx.config();
  if (bird === undefined) {
    return { ok: false, cmd: 'reconcile', code: 'E_BIRD', error: `BIRD is not used in mode ${config.mode}` };
  }
  const began = ctx.timers.now();
  if (!bird.reconcile()) {
    return {
      ok: false,
      cmd: 'reconcile',
      code: 'E_BIRD',
      error: `not connected to BIRD (${config.bird.socket})`,
    };
  }
  const ok = await ctx.loop.waitUntil(birdSettled, timeoutMs);
  if (!ok) {
    return {
      ok: false,
      cmd: 'reconcile',
      code: 'E_TIMEOUT',
      error: `BIRD did not confirm within ${timeoutMs} ms`,
    };
  }
  const protocols = new Set([...ctx.loop.state.vips.values()].flatMap((v) => v.config.protocols)).size;
  return { ok: true, cmd: 'reconcile', protocols, waited_ms: Math.round(ctx.timers.now() - began) };
}

/** Withdraws a VIP until release; answers once BIRD confirmed it and converge_ms passed. */
async function hold(
  ctx: ControlContext,
  vip: string,
  timeoutMs: number,
): Promise<WithdrawReply | ErrorReply> {
  const before = ctx.loop.state;
  if (!before.vips.has(vip)) return unknownVip(ctx, 'hold', vip);
  const outcome = ctx.waiters.wait(before, [vip], (s) => s.vips.get(vip)?.draining !== false, timeoutMs);
  ctx.loop.post({ type: 'drain', vip });
  const o = await outcome;
  return o.ok
    ? { ok: true, cmd: 'hold', vips: o.vips, waited_ms: o.waitedMs, converged: o.converged }
    : { ok: false, cmd: 'hold', code: o.code, error: `${vip}: ${o.error}` };
}

/** Ends a hold; the VIP comes back once its checks pass `rise` times. */
function release(ctx: ControlContext, vip: string): ResumeReply | ErrorReply {
  if (!ctx.loop.state.vips.has(vip)) return unknownVip(ctx, 'release', vip);
  ctx.loop.post({ type: 'undrain', vip });
  return { ok: true, cmd: 'release', vips: [vip] };
}

/** Withdraws every VIP (BGP sessions stay up); answers once confirmed and converged. */
async function drain(ctx: ControlContext, timeoutMs: number): Promise<WithdrawReply | ErrorReply> {
  const before = ctx.loop.state;
  const vips = [...before.vips.keys()].sort();
  const outcome = ctx.waiters.wait(before, vips, (s) => s.draining, timeoutMs);
  ctx.loop.post({ type: 'drain' });
  ctx.rememberDrain(true);
  const o = await outcome;
  return o.ok
    ? { ok: true, cmd: 'drain', vips: o.vips, waited_ms: o.waitedMs, converged: o.converged }
    : { ok: false, cmd: 'drain', code: o.code, error: o.error };
}

function undrain(ctx: ControlContext): ResumeReply {
  ctx.loop.post({ type: 'undrain' });
  ctx.rememberDrain(false);
  return { ok: true, cmd: 'undrain', vips: [...ctx.loop.state.vips.keys()].sort() };
}

function unknownVip(ctx: ControlContext, cmd: 'hold' | 'release', vip: string): ErrorReply {
  const known = [...ctx.loop.state.vips.keys()].sort();
  return {
    ok: false,
    cmd,
    code: 'E_UNKNOWN_VIP',
    error: `no VIP ${vip} (known: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})`,
  };
}
