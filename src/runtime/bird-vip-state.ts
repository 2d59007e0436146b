/**
 * The VIP state file BIRD includes: one `define off_<x> = 0|1;` per VIP protocol, read by each
 * protocol's `disabled off_<x>;`. BIRD's `configure` resets a protocol to its configured
 * `disabled`, so the configured value must be the state the health checker has confirmed, not a
 * fixed `disabled;`, or every reconfiguration withdraws every VIP of the node (ADR 0026).
 *
 * Shared by the renderer (the all-disabled file each generation carries), apply, and healthd (the
 * live file). A leaf: it imports only the atomic writer.
 */
import { writeAtomic } from '../fs/atomic.ts';

/** The file's name, next to `intentlb.conf`: the configuration includes it by this relative name. */
export const VIP_STATE_FILE = 'vip-state.conf';

/** A protocol name this file can carry: the renderer's `vip_<x>` and `vip6_<x>`. */
const VIP_PROTOCOL = /^vip6?_[A-Za-z0-9_]+$/;

/** Whether `protocol` has a state constant (a `vip_`/`vip6_` protocol of at most 64 characters). */
export function hasStateSymbol(protocol: string): boolean {
  return VIP_PROTOCOL.test(protocol) && protocol.length <= 64;
}

/**
 * The constant a VIP protocol's `disabled` reads: `vip_web` → `off_web`, `vip6_web` → `off6_web`.
 * Constants and protocols share BIRD's one symbol table, so the name must differ from the
 * protocol's; swapping the prefix keeps its length, and protocol names already fill BIRD's 64
 * characters (vocabulary/names.ts), so a longer prefix could not be added.
 */
export function stateSymbol(protocol: string): string {
  if (!hasStateSymbol(protocol))
    throw new Error(`bird: no state symbol for protocol ${JSON.stringify(protocol)}`);
  return `off${protocol.slice(3)}`;
}

/** The file's text for these protocols: `disabled` true writes 1 (BIRD starts it disabled). */
export function vipStateText(protocols: ReadonlyMap<string, boolean>): string {
  const lines = [
    '# intentlb: the VIP protocols BIRD starts enabled (0) or disabled (1) on start and on configure.',
    '# Written by intentlb healthd as BIRD confirms each change; reset to all 1 before BIRD starts.',
  ];
  for (const p of [...protocols.keys()].sort()) {
    lines.push(`define ${stateSymbol(p)} = ${protocols.get(p) === true ? 1 : 0};`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every protocol disabled. */
export function allDisabled(protocols: Iterable<string>): Map<string, boolean> {
  return new Map([...protocols].map((p) => [p, true]));
}

/** Writes the file atomically (temp file, fsync, rename): BIRD never reads half a file. */
export function writeVipState(file: string, protocols: ReadonlyMap<string, boolean>): void {
  writeAtomic(file, vipStateText(protocols));
}

const DEFINE = /^define (off6?_[A-Za-z0-9_]+) = ([01]);$/;

/** What a state file says, per protocol (true: disabled); lines that are not a state are skipped. */
export function parseVipState(text: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of text.split('\n')) {
    const m = DEFINE.exec(line.trim());
    if (m !== null) out.set(`vip${m[1]!.slice(3)}`, m[2] === '1');
  }
  return out;
}
