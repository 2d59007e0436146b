/**
 * The node's processes as systemd units, for nodes where systemd runs (`intentlb apply` without
 * `--root`). HAProxy instances use the rendered template `haproxy@.service`; every node service
 * with a process (services/: BIRD, the health checker, keepalived) gets a unit written by `apply`
 * on the node itself, from the same `unitSpec` the built-in supervisor runs, so both run the same
 * command line (the health checker's node options and environment included) and point at this
 * node's intentlb install.
 *
 * They are named `intentlb-<name>.service` and conflict with the distribution's unit for the same
 * daemon (`bird.service`, `keepalived.service`), which reads other configuration files and listens
 * on another control socket.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isMissing } from '../errors.ts';
import { writeAtomic } from '../fs/atomic.ts';
import type { NodeLayout } from '../render/types.ts';
import { BIN } from '../runtime/paths.ts';
import { nodeService, unitServiceNames, unknownUnit } from './services/index.ts';
import { HAPROXY_UNIT, type UnitSpec, unitSpec } from './units.ts';

export const SYSTEMD_DIR = '/etc/systemd/system';

/** `haproxy@web` → `haproxy@web.service`, `bird` → `intentlb-bird.service`. */
export function systemdUnitName(name: string): string {
  if (name.startsWith('haproxy@')) return `${name}.service`;
  if (nodeService(name)?.unit !== undefined) return `intentlb-${name}.service`;
  throw unknownUnit(name);
}

/** The reverse of `systemdUnitName`; undefined for a unit that is not intentlb's. */
export function unitNameOf(systemdUnit: string): string | undefined {
  const name = systemdUnit.endsWith('.service') ? systemdUnit.slice(0, -'.service'.length) : '';
  if (HAPROXY_UNIT.test(name)) return name;
  const own = name.startsWith('intentlb-') ? name.slice('intentlb-'.length) : '';
  return nodeService(own)?.unit === undefined ? undefined : own;
}

/** The patterns `systemctl list-units` takes to list every unit of intentlb's. */
export function systemdPatterns(): string[] {
  return ['haproxy@*.service', ...unitServiceNames().map((n) => `intentlb-${n}.service`)];
}

/**
 * One word of an `Exec*=` line: systemd splits on whitespace and expands `%` specifiers and `$`
 * variables, so those are quoted and escaped.
 */
export function execWord(s: string): string {
  const escaped = s.replaceAll('%', '%%').replaceAll('$', '$$$$');
  return /[\s"'\\;]/.test(s) || s === ''
    ? `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
    : escaped;
}

/** A `.service` file for one of the node's own processes (not the HAProxy template). */
export function systemdUnitFile(layout: NodeLayout, name: string): string {
  const own = nodeService(name)?.unit?.systemd;
  if (own === undefined) throw new Error(`no unit file for ${name}: ${unitServiceNames().join(', ')}`);
  const spec: UnitSpec = unitSpec(layout, name);
  const lines = [
    '# Written by intentlb apply on this node; apply rewrites it. Do not edit.',
    '[Unit]',
    `Description=${own.description}`,
    `After=network-online.target ${BOOT_UNIT}` + (own.after === undefined ? '' : ` ${own.after}`),
    'Wants=network-online.target',
    ...(own.conflicts === undefined ? [] : [`Conflicts=${own.conflicts}`]),
    'PartOf=intentlb.target',
    '',
    '[Service]',
    'Type=simple',
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `Environment=${execWord(`${k}=${v}`)}`),
    `ExecStartPre=/bin/mkdir -p ${execWord(layout.run)}`,
    ...(spec.preStart ?? []).map((s) => `ExecStartPre=${[s.command, ...s.args].map(execWord).join(' ')}`),
    `ExecStart=${[spec.command, ...spec.args].map(execWord).join(' ')}`,
    ...(own.reloadSignal === undefined
      ? []
      : [`ExecReload=/bin/kill -${own.reloadSignal.slice(3)} $MAINPID`]),
    ...(spec.nice === undefined ? [] : [`Nice=${spec.nice}`]),
    `KillSignal=${spec.stopSignal}`,
    `TimeoutStopSec=${Math.ceil(spec.stopTimeoutMs / 1000)}s`,
    'Restart=always',
    'RestartSec=1s',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** `intentlb.target`: every unit of intentlb's, started at boot. */
export const TARGET_FILE = [
  '# Written by intentlb apply on this node; apply rewrites it. Do not edit.',
  '[Unit]',
  "Description=intentlb: this load-balancer node's processes",
  'Wants=network-online.target',
  'After=network-online.target',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

/**
 * `intentlb-boot.service`: after a reboot, puts the applied generation's VIPs back on `lo` and
 * loads its nftables ruleset (`intentlb boot`, deploy/boot.ts) before the HAProxy instances and
 * BIRD start (they are ordered `After=` it): an instance cannot bind a VIP that is not on `lo`.
 * Enabled by its link in `multi-user.target.wants`, not pulled in by the instances, so an apply
 * that starts an instance does not run it.
 */
export const BOOT_UNIT = 'intentlb-boot.service';

export function bootUnitFile(): string {
  return [
    '# Written by intentlb apply on this node; apply rewrites it. Do not edit.',
    '[Unit]',
    "Description=intentlb: the applied generation's VIPs on lo and nftables ruleset, at boot",
    'After=network-pre.target',
    'Before=network-online.target intentlb.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${[process.execPath, BIN, 'boot'].map(execWord).join(' ')}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * Puts the node's units where systemd finds them: the HAProxy template as a link to the installed
 * one, and `intentlb.target` and the `intentlb-*.service` files written when their content
 * changed. Returns the files it wrote (systemd needs `daemon-reload` after a change).
 */
export function installSystemdUnits(layout: NodeLayout, dir = SYSTEMD_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const link = join(dir, 'haproxy@.service');
  const target = `${layout.etc}/systemd/haproxy@.service`;
  try {
    lstatSync(link); // there already, even as a dangling link: leave it
  } catch (err) {
    if (!isMissing(err)) throw err;
    symlinkSync(target, link);
  }
  const files: [string, string][] = [
    ['intentlb.target', TARGET_FILE],
    [BOOT_UNIT, bootUnitFile()],
    ...unitServiceNames().map((n): [string, string] => [systemdUnitName(n), systemdUnitFile(layout, n)]),
  ];
  for (const [file, content] of files) {
    const path = join(dir, file);
    if (existsSync(path) && readFileSync(path, 'utf8') === content) continue;
    writeAtomic(path, content);
    written.push(path);
  }
  // Enabled as `systemctl enable` would: the link in the target's .wants folder.
  const wants = join(dir, 'multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  try {
    lstatSync(join(wants, BOOT_UNIT));
  } catch (err) {
    if (!isMissing(err)) throw err;
    symlinkSync(join(dir, BOOT_UNIT), join(wants, BOOT_UNIT));
    written.push(join(wants, BOOT_UNIT));
  }
  return written;
}
