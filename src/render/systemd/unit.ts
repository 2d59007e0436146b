import { ConfigWriter } from '../emit.ts';
import { instancePaths } from '../haproxy/paths.ts';
import { path } from '../quote/systemd.ts';
import { HEADER, type Renderer } from '../types.ts';

/**
 * Upper bound of a soft stop: the longest `hard-stop-after` of an instance (10m, TCP services;
 * render/haproxy) plus a margin for the master to exit. Only then does systemd (or the built-in
 * supervisor: deploy/units.ts) send SIGKILL.
 */
export const SOFT_STOP_TIMEOUT_MIN = 11;
const STOP_TIMEOUT = `${SOFT_STOP_TIMEOUT_MIN}min`;

/**
 * `systemd/haproxy@.service`: one master-worker process per instance (`-Ws`, Type=notify),
 * reloaded hitlessly by USR2 after a config check; `Restart=on-failure`. `systemctl stop` is a
 * soft stop (SIGUSR1: stop listening, finish the open connections, bounded by `hard-stop-after`),
 * so removing a VIP does not cut its connections. `haproxy` is found on systemd's fixed search
 * path (/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, ...), not a path baked in here.
 */
export const renderSystemd: Renderer = (_model, _node, layout) => {
  for (const dir of [layout.etc, layout.run, layout.state]) path(dir);
  // `%i`, the instance specifier, on purpose: the layout's own part was checked above.
  const p = instancePaths(layout, '%i');
  const w = new ConfigWriter('');
  w.comment(HEADER, 0);
  w.section('[Unit]');
  w.line('Description=HAProxy instance %i (intentlb)', 0);
  w.line('Documentation=man:haproxy(1)', 0);
  // intentlb-boot.service (written by apply) puts the VIPs back on lo after a reboot.
  w.line('After=network-online.target intentlb-boot.service', 0);
  w.line('Wants=network-online.target', 0);
  w.line('PartOf=intentlb.target', 0);
  w.section('[Service]');
  w.line('Type=notify', 0);
  w.line(`Environment="CONFIG=${p.config}" "PIDFILE=${p.pidFile}" "MASTER=${p.masterSocket}"`, 0);
  w.line(`ExecStartPre=/bin/mkdir -p ${layout.run}/haproxy ${layout.state}/haproxy`, 0);
  w.line(`ExecStartPre=haproxy -Ws -f ${env('CONFIG')} -c -q`, 0);
  w.line(`ExecStart=haproxy -Ws -f ${env('CONFIG')} -p ${env('PIDFILE')} -S ${env('MASTER')},mode,600`, 0);
  w.line(`ExecReload=haproxy -Ws -f ${env('CONFIG')} -c -q`, 0);
  w.line('ExecReload=/bin/kill -USR2 $MAINPID', 0);
  // SIGUSR1 to the master (KillMode=mixed): a soft stop; SIGKILL to all only after the timeout.
  w.line('KillSignal=SIGUSR1', 0);
  w.line(`TimeoutStopSec=${STOP_TIMEOUT}`, 0);
  w.line('KillMode=mixed', 0);
  w.line('Restart=on-failure', 0);
  w.line('RestartSec=1s', 0);
  w.line('SuccessExitStatus=143', 0);
  w.line('LimitNOFILE=1048576', 0);
  w.section('[Install]');
  w.line('WantedBy=multi-user.target', 0);
  return [{ path: 'systemd/haproxy@.service', content: w.toString() }];
};

/** A systemd environment reference, expanded as a single argument. */
function env(name: string): string {
  return `$${'{'}${name}}`;
}
