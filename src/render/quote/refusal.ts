import { hasControl, isControlCode } from '../../vocabulary/strings.ts';

/**
 * A model string that a target format cannot represent reached a renderer. `check` must reject
 * such input first (E_INJECTION and the name grammar), so this is a bug, never a diagnostic: the
 * renderer refuses rather than escape in a way the target does not read back.
 */
export class RenderRefusal extends Error {
  override readonly name = 'RenderRefusal';

  constructor(
    /** The target format and the kind of value, e.g. `haproxy word`, `nftables comment`. */
    readonly what: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(
      `${what}: cannot represent ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)} (${reason})`,
    );
  }
}

/** Refuses `s` when it holds a control character (line breaks included). */
export function refuseControls(what: string, s: string): string {
  if (hasControl(s)) throw new RenderRefusal(what, s, 'control character or line break');
  return s;
}

/** Refuses `s` unless it is non-empty and wholly matches `allowed`. */
export function refuseUnless(what: string, s: string, allowed: RegExp, reason: string): string {
  if (s === '' || !allowed.test(s)) throw new RenderRefusal(what, s, reason);
  return s;
}

/**
 * Free display text (descriptions, notes) on one line: every run of white space, control
 * characters and line separators becomes one space. The text is for people; folding it is no loss
 * and it cannot reach the structure of the file.
 */
export function oneLine(s: string): string {
  return replaceControls(s, ' ').replace(/\s+/g, ' ').trim();
}

/** `s` with every control character (`isControlCode`) not in `keep` replaced by `by`. */
export function replaceControls(s: string, by: string, keep = ''): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    if (isControlCode(s.charCodeAt(i)) && !keep.includes(s[i]!)) {
      out += s.slice(last, i) + by;
      last = i + 1;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}
