import { ConfigWriter } from '../emit.ts';
import { instancePaths } from '../haproxy/paths.ts';
import { HEADER, type Renderer } from '../types.ts';

/**
 * `systemd/haproxy@.service`: one master-worker process per instance (`-Ws`, Type=notify),
 * reloaded hitlessly by USR2 after a config check; `Restart=on-failure`.
 */
export const renderSystemd: Renderer = (_model, _node, layout) => {
  const p = instancePaths(layout, '%i');
  const w = new ConfigWriter('');
  w.comment(HEADER, 0);
  w.section('[Unit]');
  w.line('Description=HAProxy instance %i (intentlb)', 0);
  w.line('Documentation=man:haproxy(1)', 0);
  w.line('After=network-online.target', 0);
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
