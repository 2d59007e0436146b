import type { NodeLayout } from '../types.ts';

/** Where one HAProxy instance keeps its files on a node: shared by render, apply and the supervisor. */
export interface InstancePaths {
  config: string;
  adminSocket: string;
  masterSocket: string;
  pidFile: string;
  stateFile: string;
}

export function instancePaths(layout: NodeLayout, instance: string): InstancePaths {
  return {
    config: `${layout.etc}/haproxy/${instance}.cfg`,
    adminSocket: `${layout.run}/haproxy/${instance}.sock`,
    masterSocket: `${layout.run}/haproxy/${instance}.master`,
    pidFile: `${layout.run}/haproxy/${instance}.pid`,
    stateFile: `${layout.state}/haproxy/${instance}.state`,
  };
}

/** Installed path of a certificate bundle (site-relative `certs/x.pem` → `<etc>/certs/x.pem`). */
export function certPath(layout: NodeLayout, siteRelative: string): string {
  return `${layout.etc}/certs/${siteRelative.split('/').pop()}`;
}
