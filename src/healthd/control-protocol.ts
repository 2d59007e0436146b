/**
 * The control socket's wire format, shared by the daemon (control-server.ts) and its clients
 * (control-client.ts): a unix stream socket, one JSON object per line each way, one reply per
 * request, in order. Field names are snake_case, like healthd.yaml.
 *
 * ```
 * → {"cmd":"hold","vip":"web-www","timeout_ms":29000}
 * ← {"ok":true,"cmd":"hold","vips":["web-www"],"waited_ms":512,"converged":true}
 * → {"cmd":"hold","vip":"nope"}
 * ← {"ok":false,"cmd":"hold","code":"E_UNKNOWN_VIP","error":"no VIP nope (known: db-pg, web-www)"}
 * ```
 */

import { z } from 'zod';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { HealthdStatus } from './status.ts';

/** Requests; `timeout_ms` bounds how long `hold`, `drain` and `reconcile` wait for BIRD (and convergence). */
export type ControlRequest =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'drain'; readonly timeout_ms?: number }
  | { readonly cmd: 'undrain' }
  | { readonly cmd: 'hold'; readonly vip: string; readonly timeout_ms?: number }
  | { readonly cmd: 'release'; readonly vip: string }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'reconcile'; readonly timeout_ms?: number };

export type ControlCommand = ControlRequest['cmd'];

export const CONTROL_COMMANDS: readonly ControlCommand[] = [
  'status',
  'drain',
  'undrain',
  'hold',
  'release',
  'reload',
  'reconcile',
];

/**
 * The closed list of codes a refusal (`"ok":false`) carries, each with what it means. Documented in
 * docs/healthd.md (a test fails when one is missing there, or documented but gone from here).
 */
export const CONTROL_CODES = {
  E_BAD_REQUEST: 'not JSON, an unknown command, missing or wrong fields, or a request line too long',
  E_UNKNOWN_VIP: '`hold` or `release` named no VIP of the running configuration',
  E_TIMEOUT: 'BIRD did not confirm in time (a hold or drain stays in force)',
  E_CANCELLED: 'released, undrained or shut down before the withdraw completed',
  E_CONFIG:
    '`reload` found problems in healthd.yaml (the reply carries the diagnostics) or cannot listen on its new control socket; the running configuration is kept',
  E_SHUTTING_DOWN: 'the daemon is shutting down',
  E_BIRD: '`reconcile`: BIRD is not connected, or not used in this HA mode',
  E_INTERNAL: 'a bug in the daemon; the request may or may not have taken effect',
} as const satisfies Record<string, string>;

export type ControlErrorCode = keyof typeof CONTROL_CODES;

export interface ErrorReply {
  readonly ok: false;
  readonly cmd?: ControlCommand;
  readonly code: ControlErrorCode;
  readonly error: string;
  /** For E_CONFIG: the problems of healthd.yaml, as `intentlb check --format json` gives a site's. */
  readonly diagnostics?: readonly Diagnostic[];
}

export interface StatusReply {
  readonly ok: true;
  readonly cmd: 'status';
  readonly status: HealthdStatus;
}

/** `hold` and `drain`: every VIP named is withdrawn, confirmed by BIRD, and converge_ms passed (if it had been announced). */
export interface WithdrawReply {
  readonly ok: true;
  readonly cmd: 'hold' | 'drain';
  readonly vips: readonly string[];
  readonly waited_ms: number;
  /** converge_ms was waited (BIRD may have carried the route when the request came). */
  readonly converged: boolean;
}

/** `release` and `undrain`: back to check-driven announcement (announced again once checks pass). */
export interface ResumeReply {
  readonly ok: true;
  readonly cmd: 'release' | 'undrain';
  readonly vips: readonly string[];
}

export interface ReloadReply {
  readonly ok: true;
  readonly cmd: 'reload';
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

/** `reconcile`: every managed protocol was re-sent and BIRD confirmed the result. */
export interface ReconcileReply {
  readonly ok: true;
  readonly cmd: 'reconcile';
  readonly protocols: number;
  readonly waited_ms: number;
}

export type OkReply = StatusReply | WithdrawReply | ResumeReply | ReloadReply | ReconcileReply;
export type ControlReply = OkReply | ErrorReply;

/** The success reply a command gets. */
export type OkReplyFor<C extends ControlCommand> = OkReply extends infer R
  ? R extends { readonly cmd: infer K }
    ? C extends K
      ? R
      : never
    : never
  : never;
/** Every reply a command may get. */
export type ReplyFor<C extends ControlCommand> = OkReplyFor<C> | ErrorReply;

/** Longest request line accepted. */
export const MAX_LINE = 64 * 1024;

const timeout = z.int().min(1).max(3_600_000).optional();
const vip = z.string().min(1).max(256);

const requestSchema = z.discriminatedUnion(
  'cmd',
  [
    z.strictObject({ cmd: z.literal('status') }),
    z.strictObject({ cmd: z.literal('drain'), timeout_ms: timeout }),
    z.strictObject({ cmd: z.literal('undrain') }),
    z.strictObject({ cmd: z.literal('hold'), vip, timeout_ms: timeout }),
    z.strictObject({ cmd: z.literal('release'), vip }),
    z.strictObject({ cmd: z.literal('reload') }),
    z.strictObject({ cmd: z.literal('reconcile'), timeout_ms: timeout }),
  ],
  { error: `cmd must be one of ${CONTROL_COMMANDS.join(', ')}` },
);

/** Parses one request line; an ErrorReply when it is not a valid request. */
export function parseRequest(line: string): ControlRequest | ErrorReply {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return { ok: false, code: 'E_BAD_REQUEST', error: 'not a JSON object' };
  }
  const parsed = requestSchema.safeParse(data);
  if (parsed.success) return stripUndefined(parsed.data) as ControlRequest;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
  const cmd = (data as { cmd?: unknown } | null)?.cmd;
  const known = typeof cmd === 'string' && (CONTROL_COMMANDS as readonly string[]).includes(cmd);
  return {
    ok: false,
    ...(known ? { cmd: cmd as ControlCommand } : {}),
    code: 'E_BAD_REQUEST',
    error: `${where}${issue?.message ?? 'invalid request'}`,
  };
}

function stripUndefined(o: object): object {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
