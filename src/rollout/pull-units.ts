/**
 * The systemd timer and service of pull mode (`intentlb-pull.timer` → `intentlb-pull.service`,
 * which runs `intentlb pull` once). Pure: the same options give the same bytes (golden-tested,
 * and `systemd-analyze verify` accepts them).
 */
import { execWord } from '../deploy/systemd-units.ts';

export interface PullUnitOptions {
  /** How intentlb is run on the node: `[node, /path/bin/intentlb.mjs]` or `[intentlb]`. */
  command: string[];
  /** The `intentlb pull` arguments (repository, node, branch, ...). */
  args: string[];
  /** systemd `OnCalendar=` (default hourly). */
  onCalendar: string;
  /** systemd `RandomizedDelaySec=`: nodes spread their start so they do not restart together. */
  randomizedDelay: string;
}

export const PULL_UNIT = 'intentlb-pull';

export function renderPullUnits(o: PullUnitOptions): { name: string; content: string }[] {
  const head = '# Written by intentlb pull --install-timer; it rewrites it. Do not edit.';
  const service = [
    head,
    '[Unit]',
    "Description=intentlb: apply the newest commit of the site's repository (pull mode)",
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${[...o.command, 'pull', ...o.args].map(execWord).join(' ')}`,
    '',
  ];
  const timer = [
    head,
    '[Unit]',
    'Description=intentlb: periodic pull of the site',
    '',
    '[Timer]',
    `OnCalendar=${o.onCalendar}`,
    `RandomizedDelaySec=${o.randomizedDelay}`,
    'Persistent=true',
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ];
  return [
    { name: `${PULL_UNIT}.service`, content: service.join('\n') },
    { name: `${PULL_UNIT}.timer`, content: timer.join('\n') },
  ];
}
