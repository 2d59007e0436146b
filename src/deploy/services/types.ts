import type { NodeLayout } from '../../render/types.ts';
import type { ProcessControl } from '../control.ts';
import type { Hooks } from '../hooks.ts';
import type { UnitSpec } from '../units.ts';

/** What apply manages on this node, from the site and the command line. */
export interface NodeFlags {
  /** Add and remove the VIPs on `lo` (anycast sites). */
  manageAddresses: boolean;
  /** Load the generated nftables ruleset. */
  manageFirewall: boolean;
  /** The node runs BIRD and healthd. */
  anycast: boolean;
  /** The node runs healthd (anycast, script failover); absent: as `anycast`. */
  runsHealthd?: boolean;
}

/** What a service's action works with. */
export interface ServiceContext {
  layout: NodeLayout;
  control: ProcessControl;
  hooks: Hooks;
  flags: NodeFlags;
  log: (line: string) => void;
}

/**
 * When apply runs a service's action. `before-instances`: after the new VIP addresses are on `lo`,
 * before any HAProxy instance starts or reloads (what new listeners need, e.g. the firewall).
 * `after-instances`: after every instance change and address removal (what announces the VIPs
 * once they serve).
 */
export type ServicePhase = 'before-instances' | 'after-instances';

/** The long-running process of a service, run by the built-in supervisor or by systemd. */
export interface ServiceUnit {
  /** The command line from the installed layout (the unit's name is the service's). */
  spec(layout: NodeLayout): Omit<UnitSpec, 'name'>;
  /** What the `intentlb-<name>.service` file apply writes adds to the spec. */
  systemd: {
    description: string;
    /** The distribution's unit for the same daemon, which reads other files. */
    conflicts?: string;
    /** Units this one starts after, besides `network-online.target`. */
    after?: string;
    /** The signal `systemctl reload` sends the main process; absent: the unit has no reload. */
    reloadSignal?: NodeJS.Signals;
  };
}

/**
 * One of the node's services besides the HAProxy instances. Each declares its own answers in one
 * module of this folder; plan, apply, the supervisor and the systemd units read the table
 * (registry.ts) and never branch on a service's name.
 */
export interface NodeService {
  /** The supervisor's unit name, `intentlb-<name>.service` under systemd, `service` in plan actions. */
  name: string;
  /** Generated files (paths in a node's tree) whose change or arrival needs the action. */
  files: readonly string[];
  /** The verb plan shows for the action (`configure`, `load`, `reload`). */
  verb: string;
  phase: ServicePhase;
  /** Whether apply manages the service on a node with these flags. */
  applies(flags: NodeFlags): boolean;
  /** Brings the service to the installed files: reload, reconfigure, or start it. */
  act(ctx: ServiceContext): Promise<void>;
  /** Its process, when it has one (a ruleset load has none). */
  unit?: ServiceUnit;
}
