import type { BackendModel, Model, ServiceModel } from '../../model/index.ts';
import type { ConfigWriter } from '../emit.ts';
import { objectName, text } from '../quote/icinga2.ts';
import { certCheck, FRONTEND_CHECKS, maybe, opt, type Var } from './frontend-checks.ts';
import { icingaValue, macroText } from './values.ts';

/** One `object Service`: a check of the host it belongs to. */
export interface Check {
  name: string;
  port: number;
  command: string;
  vars: Var[];
  /** Run on the host's own Icinga agent (`command_endpoint = host.name`), not on the master. */
  onAgent?: boolean;
}

/** One `object Host` with its checks. */
export interface HostObject {
  name: string;
  displayName: string;
  address?: string;
  address6?: string;
  notes?: string;
  vars: Var[];
  contacts: string[];
  checks: Check[];
}

/**
 * The objects of the monitored services: a host per service (its VIPs) with a check per frontend
 * port and address in the service's protocol and a certificate check per TLS port and FQDN, and a
 * host per backend server (by name and address) with a check of each port it serves. Only services
 * with `monitoring.icinga` contribute.
 */
export function renderServiceObjects(model: Model, w: ConfigWriter): void {
  const services = model.services.filter((s) => s.monitoring.icinga);
  for (const s of services) renderHost(w, serviceHost(model, s));
  for (const host of serverHosts(services)) renderHost(w, host);
}

function serviceHost(model: Model, s: ServiceModel): HostObject {
  const fqdn = s.fqdns[0];
  const notes = s.monitoring.notes ?? s.description;
  const contacts = sorted(s.monitoring.contacts);
  const checks: Check[] = [];
  const frontend = FRONTEND_CHECKS[s.protocol];
  const vips = [
    [s.vip, ''],
    [s.vip6, '-v6'],
  ] as const;
  for (const l of [...s.listeners].sort((a, b) => a.port - b.port)) {
    for (const [address, suffix] of vips) {
      if (address === undefined) continue;
      const t = {
        address,
        port: l.port,
        tls: l.tls,
        url: s.monitoring.url,
        ...(fqdn !== undefined && { fqdn }),
      };
      // A redirecting port answers every request with a redirect: check_http takes a 3xx as OK.
      const c = s.mode === 'http' || l.role === 'redirect-https' ? FRONTEND_CHECKS.http(t) : frontend(t);
      checks.push({ name: `${c.command}-${l.port}${suffix}`, port: l.port, ...c });
    }
    // The certificate once per port and name, on the first VIP: both families serve the same one.
    const address = s.vip ?? s.vip6;
    if (!l.tls || address === undefined) continue;
    const names = s.mode === 'http' ? s.fqdns : [undefined];
    for (const name of names) {
      const t = {
        address,
        port: l.port,
        tls: true,
        url: s.monitoring.url,
        ...(name !== undefined && { fqdn: name }),
      };
      checks.push({
        name: name === undefined ? `cert-${l.port}` : `cert-${l.port}-${name}`,
        port: l.port,
        ...certCheck(t, s.mode === 'http'),
      });
    }
  }
  return {
    name: `vip:${s.id}`,
    displayName: s.fqdns[0] === undefined ? s.id : `${s.id} (${s.fqdns[0]})`,
    ...(s.vip !== undefined && { address: s.vip }),
    ...(s.vip6 !== undefined && { address6: s.vip6 }),
    ...(notes !== undefined && { notes }),
    vars: [
      ['intentlb_site', model.site.name],
      ['intentlb_service', s.id],
      ...maybe('intentlb_team', s.team),
      ['intentlb_protocol', s.protocol],
      ['fqdns', s.fqdns],
    ],
    contacts,
    checks,
  };
}

/** What a server host gathers from every backend it serves in. */
interface ServerEntry {
  name: string;
  address: string;
  backends: Set<string>;
  contacts: Set<string>;
  /** Check name -> the check, from the first backend that asks for it. */
  checks: Map<string, Check>;
}

/** Servers deduplicated by name and address; a port's check comes from the first backend using it. */
function serverHosts(services: readonly ServiceModel[]): HostObject[] {
  // By name, then address (the host `name@address`; addresses never hold `@`): the model's own
  // strings as keys, so no key string is built and hashed per server of every backend.
  const byName = new Map<string, Map<string, ServerEntry>>();
  const entries: ServerEntry[] = [];
  for (const s of services) {
    for (const b of [s.backend, ...s.routes.map((r) => r.backend)]) {
      const command = checkCommand(b);
      for (const srv of b.servers) {
        let byAddress = byName.get(srv.name);
        if (byAddress === undefined) {
          byAddress = new Map();
          byName.set(srv.name, byAddress);
        }
        let host = byAddress.get(srv.address);
        if (host === undefined) {
          host = {
            name: srv.name,
            address: srv.address,
            backends: new Set(),
            contacts: new Set(),
            checks: new Map(),
          };
          byAddress.set(srv.address, host);
          entries.push(host);
        }
        host.backends.add(b.name);
        for (const c of s.monitoring.contacts) host.contacts.add(c);
        const port = b.check.port ?? srv.port;
        const name = `${command}-${port}`;
        if (!host.checks.has(name)) host.checks.set(name, serverCheck(b, srv.address, port));
      }
    }
  }
  return entries
    .map((h): HostObject => {
      const key = `${h.name}@${h.address}`;
      const family = h.address.includes(':') ? 'address6' : 'address';
      return {
        name: `server:${key}`,
        displayName: `${h.name} (${h.address})`,
        [family]: h.address,
        vars: [['intentlb_backends', sorted([...h.backends])]],
        contacts: sorted([...h.contacts]),
        checks: [...h.checks.values()].sort((a, b) => a.port - b.port || compare(a.name, b.name)),
      };
    })
    .sort((a, b) => compare(a.name, b.name));
}

/** A server that expects a PROXY header would take an HTTP request for a broken one. */
function checkCommand(b: BackendModel): 'http' | 'tcp' {
  return b.check.type !== 'http' || b.proxyProtocol !== undefined ? 'tcp' : 'http';
}

function serverCheck(b: BackendModel, address: string, port: number): Check {
  if (checkCommand(b) === 'tcp') {
    return {
      name: `tcp-${port}`,
      port,
      command: 'tcp',
      vars: [['tcp_address', address], ['tcp_port', port], ...opt(b.ssl, 'tcp_ssl', true)],
    };
  }
  const { host, expect, path } = b.check;
  return {
    name: `http-${port}`,
    port,
    command: 'http',
    vars: [
      ['http_address', address],
      ['http_port', port],
      ['http_ssl', b.ssl],
      ...opt(b.ssl && host !== undefined, 'http_sni', true),
      ...maybe('http_vhost', host === undefined ? undefined : macroText(host)),
      ['http_uri', macroText(path)],
      ...opt(typeof expect === 'number', 'http_expect', String(expect)),
    ],
  };
}

export function renderHost(w: ConfigWriter, h: HostObject): void {
  w.section(`object Host ${objectName(h.name)} {`);
  w.line(`display_name = ${icingaValue(h.displayName)}`);
  w.line('check_command = "hostalive"');
  if (h.address !== undefined) w.line(`address = ${icingaValue(h.address)}`);
  if (h.address6 !== undefined) w.line(`address6 = ${icingaValue(h.address6)}`);
  if (h.notes !== undefined) w.line(`notes = ${text(h.notes)}`);
  renderVars(w, h.vars, h.contacts);
  w.raw('}');
  for (const c of h.checks) {
    w.section(`object Service ${objectName(c.name)} {`);
    w.line(`host_name = ${objectName(h.name)}`);
    w.line(`check_command = ${icingaValue(c.command)}`);
    if (c.onAgent === true) w.line('command_endpoint = host.name');
    renderVars(w, c.vars, h.contacts);
    w.raw('}');
  }
}

/** Custom variables, then the contacts that notification apply rules read. */
function renderVars(w: ConfigWriter, vars: readonly Var[], contacts: string[]): void {
  for (const [k, v] of vars) w.line(`vars.${k} = ${icingaValue(v)}`);
  if (contacts.length > 0) w.line(`vars.notification_contacts = ${icingaValue(contacts)}`);
}

export function sorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compare);
}

/** Code-point order: unlike localeCompare, the same on every machine. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
