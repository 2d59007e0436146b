import { refuseControls } from './refusal.ts';

/** One line of a `#` comment: line breaks split it before this, other controls are refused. */
export function commentLine(s: string): string {
  return refuseControls('comment', s);
}
