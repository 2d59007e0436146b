import { IntentlbError } from '../errors.ts';

/**
 * A deploy operation that failed for a reason the operator can act on (a lock held, no
 * supervisor, an unknown service): the CLI prints the message and exits 1, without a stack trace.
 */
export class OperationError extends IntentlbError {}

/** An action of apply that failed; the message names the instance or service and the tool's answer. */
export class ActionError extends IntentlbError {}
