/**
 * What each `ha.mode` means for the rest of the program, in one descriptor per mode, so renderers,
 * deploy and the lab read an answer instead of switching on the mode's name.
 */

export const HA_MODE_NAMES = ['anycast', 'vrrp', 'script', 'none'] as const;
export type HaMode = (typeof HA_MODE_NAMES)[number];

export interface HaModeDescriptor {
  /**
   * The VIPs move between nodes (VRRP, a failover script): HAProxy binds them with `transparent`
   * (freebind) on every node, and a node probes its own instance on its management address.
   */
  readonly floating: boolean;
  /** The node runs healthd (it announces VIPs, or runs the failover script). */
  readonly healthd: boolean;
}

export const HA_MODES: { readonly [M in HaMode]: HaModeDescriptor } = {
  anycast: { floating: false, healthd: true },
  vrrp: { floating: true, healthd: false },
  script: { floating: true, healthd: true },
  none: { floating: false, healthd: false },
};

/** The folder of a node's failover scripts under its configuration folder (`/etc/intentlb`). */
export const FAILOVER_DIR = 'failover.d';
