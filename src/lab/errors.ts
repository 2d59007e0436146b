import { IntentlbError } from '../errors.ts';

/** A problem the operator can act on: printed as is, exit code 1. */
export class LabError extends IntentlbError {}
