/**
 * Talking to a running healthd through its control socket (the `control:` path of healthd.yaml).
 * Used by `intentlb healthd <command>` and by deploy, which holds a VIP before a disruptive
 * restart of its HAProxy instance and releases it afterwards:
 *
 * ```ts
 * await holdVip(socket, 'web-www', 30_000);   // withdrawn, confirmed by BIRD, converged
 * await restartInstance('web-www');
 * await releaseVip(socket, 'web-www', 5_000); // announced again once its checks pass `rise`
 * ```
 */

import { createConnection } from 'node:net';
import { IntentlbError } from '../errors.ts';
import {
  type ControlErrorCode,
  type ControlRequest,
  type ErrorReply,
  MAX_LINE,
  type OkReplyFor,
  type ReplyFor,
  type ResumeReply,
  type WithdrawReply,
} from './control-protocol.ts';

export * from './control-protocol.ts';

/** Why a request got no reply. */
export type TransportErrorCode =
  /** No daemon listens on the socket (ENOENT, ECONNREFUSED). */
  | 'E_NOT_RUNNING'
  /** No reply within the timeout; the request may still take effect. */
  | 'E_TIMEOUT'
  /** Connection failed otherwise, or the reply was not a JSON line. */
  | 'E_TRANSPORT';

/** The request got no (valid) reply. */
export class HealthdControlError extends IntentlbError {
  override readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(`healthd: ${message}`, { ...options, code });
    this.name = 'HealthdControlError';
    this.code = code;
  }
}

/** The daemon answered with an error (unknown VIP, BIRD did not confirm in time, ...). */
export class HealthdRefusedError extends IntentlbError {
  override readonly code: ControlErrorCode;
  readonly reply: ErrorReply;
  constructor(reply: ErrorReply) {
    super(`healthd: ${reply.cmd ?? 'request'} refused (${reply.code}): ${reply.error}`, { code: reply.code });
    this.code = reply.code;
    this.name = 'HealthdRefusedError';
    this.reply = reply;
  }
}

/** Margin kept between the daemon's own wait and the client's, so the daemon's answer arrives first. */
const SERVER_MARGIN_MS = 500;

/**
 * Sends one request and resolves with the daemon's reply, success (`ok: true`) or refusal
 * (`ok: false` with a code). Rejects with {@link HealthdControlError} only when no reply came:
 * not running, timed out, or a broken connection. For `hold`, `drain` and `reconcile` the daemon is told to
 * give up waiting a little before `timeoutMs`, so it answers E_TIMEOUT rather than the client
 * timing out.
 */
export function healthdControl<R extends ControlRequest>(
  socketPath: string,
  request: R,
  timeoutMs: number,
): Promise<ReplyFor<R['cmd']>> {
  const wire: ControlRequest =
    (request.cmd === 'hold' || request.cmd === 'drain' || request.cmd === 'reconcile') &&
    request.timeout_ms === undefined
      ? { ...request, timeout_ms: Math.max(1, timeoutMs - SERVER_MARGIN_MS) }
      : request;
  return new Promise((resolve, reject) => {
    let settled = false;
    let buffered = '';
    const socket = createConnection({ path: socketPath });
    const finish = (err: Error | undefined, reply?: ReplyFor<R['cmd']>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => {
      finish(new HealthdControlError('E_TIMEOUT', `no reply to ${request.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify(wire)}\n`));
    socket.on('data', (text: string) => {
      buffered += text;
      const nl = buffered.indexOf('\n');
      if (nl < 0) {
        if (buffered.length > 16 * MAX_LINE) finish(new HealthdControlError('E_TRANSPORT', 'reply too long'));
        return;
      }
      try {
        const reply = JSON.parse(buffered.slice(0, nl)) as ReplyFor<R['cmd']>;
        if (typeof reply !== 'object' || reply === null || typeof reply.ok !== 'boolean')
          throw new Error('no ok field');
        finish(undefined, reply);
      } catch (err) {
        finish(
          new HealthdControlError('E_TRANSPORT', `malformed reply: ${(err as Error).message}`, {
            cause: err,
          }),
        );
      }
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const notRunning = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(
        new HealthdControlError(
          notRunning ? 'E_NOT_RUNNING' : 'E_TRANSPORT',
          notRunning ? `not running (${socketPath}: ${err.code})` : `${socketPath}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    socket.once('close', () =>
      finish(new HealthdControlError('E_TRANSPORT', 'connection closed without a reply')),
    );
  });
}

/** Like {@link healthdControl}, but a refusal rejects with {@link HealthdRefusedError}. */
export async function healthdRequest<R extends ControlRequest>(
  socketPath: string,
  request: R,
  timeoutMs: number,
): Promise<OkReplyFor<R['cmd']>> {
  const reply = await healthdControl(socketPath, request, timeoutMs);
  if (!reply.ok) throw new HealthdRefusedError(reply);
  return reply as OkReplyFor<R['cmd']>;
}

/**
 * Withdraws a VIP and keeps it withdrawn until {@link releaseVip}. Resolves once BIRD confirmed the
 * withdraw and converge_ms passed, i.e. when the instance may be restarted disruptively.
 */
export function holdVip(socketPath: string, vip: string, timeoutMs: number): Promise<WithdrawReply> {
  return healthdRequest(socketPath, { cmd: 'hold', vip }, timeoutMs);
}

/** Ends a hold: the VIP is announced again once its checks pass `rise` times. Resolves at once. */
export function releaseVip(socketPath: string, vip: string, timeoutMs: number): Promise<ResumeReply> {
  return healthdRequest(socketPath, { cmd: 'release', vip }, timeoutMs);
}
