import type { BackendModel, ServerModel } from '../../model/index.ts';
import { type ConfigWriter, duration, hostPort } from '../emit.ts';
import { word } from '../quote/haproxy.ts';
import { CHECK_DIRECTIVES } from './checks.ts';

/** One `backend` section: balance, health check, persistence, client-address passing, servers. */
export function renderBackend(w: ConfigWriter, b: BackendModel, mode: 'http' | 'tcp'): void {
  w.section(`backend ${word(b.name)}`);
  w.line(`mode ${mode}`);
  w.line(`balance ${b.balance}`);
  w.line(`timeout connect ${duration(b.timeouts.connectMs)}`);
  w.line(`timeout server ${duration(b.timeouts.serverMs)}`);
  w.line(`timeout queue ${duration(b.timeouts.queueMs)}`);
  w.line(`timeout check ${duration(b.check.timeoutMs)}`);
  w.line('load-server-state-from-file global');
  const check = CHECK_DIRECTIVES[b.check.type];
  for (const l of check.lines(b.check)) w.line(l);
  if (mode === 'http') {
    w.line('option forwardfor');
    w.line('http-request set-header X-Forwarded-Proto https if { ssl_fc }');
    w.line('http-request set-header X-Forwarded-Proto http if !{ ssl_fc }');
    w.line('http-request set-header X-Forwarded-Port %[dst_port]');
  }
  if (b.sticky === 'cookie') w.line(`cookie ${word(b.cookie)} insert indirect nocache httponly`);
  if (b.sticky === 'source') {
    w.line('stick-table type ipv6 size 1m expire 30m');
    w.line('stick on src');
  }
  if (b.transparent) {
    // TPROXY: connect to the servers from the client's own address (needs routing back via the LB).
    if (b.servers.some((s) => !s.address.includes(':'))) w.line('source 0.0.0.0 usesrc clientip');
    else w.line('source [::] usesrc clientip'); // HAProxy reads a bare `::` as address:port
  }
  const defaults = [
    `inter ${duration(b.check.intervalMs)}`,
    `fall ${b.check.fall}`,
    `rise ${b.check.rise}`,
    b.check.port !== undefined ? `port ${b.check.port}` : undefined,
    b.maxconn !== undefined ? `maxconn ${b.maxconn}` : undefined,
  ];
  w.tokens(1, 'default-server', ...defaults);
  for (const s of [...b.servers].sort(byName)) w.tokens(1, ...serverTokens(s, b, check.enabled));
}

function serverTokens(s: ServerModel, b: BackendModel, checked: boolean): (string | undefined | false)[] {
  return [
    'server',
    word(s.name),
    hostPort(s.address, s.port),
    checked && 'check',
    `weight ${s.weight}`,
    s.backup && 'backup',
    s.maxconn !== undefined && `maxconn ${s.maxconn}`,
    b.sticky === 'cookie' && `cookie ${word(s.name)}`,
    b.proxyProtocol === 'v1' && 'send-proxy',
    b.proxyProtocol === 'v2' && 'send-proxy-v2',
    b.proxyProtocol !== undefined && checked && 'check-send-proxy',
    b.ssl && `ssl verify ${b.sslVerify}${b.sslVerify === 'required' ? ' ca-file @system-ca' : ''}`,
    b.ssl && b.check.type === 'http' && checked && 'check-ssl',
  ];
}

function byName(a: ServerModel, b: ServerModel): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
