import { RenderRefusal, refuseControls, refuseUnless } from './refusal.ts';

/**
 * nftables strings. The scanner (nft 1.0) reads a quoted string as `"[^"]*"`: there is no escape
 * at all, so a double quote cannot be written and is refused; comments hold at most 128 bytes
 * (NFT_USERDATA_MAXLEN).
 */
const COMMENT_MAX_BYTES = 128;

/** A comment on a rule or a set element. */
export function comment(s: string): string {
  const q = str('nftables comment', s);
  if (Buffer.byteLength(s) > COMMENT_MAX_BYTES)
    throw new RenderRefusal('nftables comment', s, `longer than ${COMMENT_MAX_BYTES} bytes`);
  return q;
}

/** A quoted string argument (an interface name). */
export function str(what: string, s: string): string {
  refuseControls(what, s);
  if (s.includes('"')) throw new RenderRefusal(what, s, 'a double quote cannot be escaped');
  return `"${s}"`;
}

/** A set, chain or table name. */
export function identifier(s: string): string {
  return refuseUnless(
    'nftables identifier',
    s,
    /^[A-Za-z][A-Za-z0-9_]*$/,
    'not a letter then letters, digits, `_`',
  );
}
