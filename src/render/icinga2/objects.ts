import type { BackendModel, Model, ServiceModel } from '../../model/index.ts';
import { ConfigWriter } from '../emit.ts';
import { objectName, text } from '../quote/icinga2.ts';
import { SharedParts } from '../shared.ts';
import { HEADER, type Renderer } from '../types.ts';
import { type IcingaValue, icingaValue, macroText } from './values.ts';

/** A custom variable (`vars.<name> = <value>`). */
type Var = readonly [name: string, value: IcingaValue];

/** One `object Service`: a check of the host it belongs to. */
interface Check {
  name: string;
  port: number;
  command: 'http' | 'tcp';
  vars: Var[];
}

/** One `object Host` with its checks. */
interface HostObject {
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
 * `icinga2/intentlb.conf`: a host per monitored service (its VIPs) with a check per frontend
 * port and address, and a host per backend server (by name and address) with a check of each
 * port it serves. Only services with `monitoring.icinga` contribute.
 */
export const renderIcinga2: Renderer = (model, node, _layout, shared = new SharedParts()) => {
  const w = new ConfigWriter('  ');
  w.comment(HEADER, 0);
  w.comment(`site ${model.site.name}, node ${node.name}: service frontends and backend servers`, 0);
  // Only the header names the node: the objects are the same on every node.
  w.block(shared.get('icinga2', () => renderObjects(model)));
  return [{ path: 'icinga2/intentlb.conf', content: w.toString() }];
};

function renderObjects(model: Model): string {
  const services = model.services.filter((s) => s.monitoring.icinga);
  const w = new ConfigWriter('  ');
  for (const s of services) renderHost(w, serviceHost(model, s));
  for (const host of serverHosts(services)) renderHost(w, host);
  return w.toString();
}

function serviceHost(model: Model, s: ServiceModel): HostObject {
  const vhost = s.fqdns[0];
  const notes = s.monitoring.notes ?? s.description;
  const contacts = sorted(s.monitoring.contacts);
  const checks: Check[] = [];
  for (const l of [...s.listeners].sort((a, b) => a.port - b.port)) {
    for (const [address, suffix] of [
      [s.vip, ''],
      [s.vip6, '-v6'],
    ] as const) {
      if (address === undefined) continue;
      if (s.mode === 'http') {
        checks.push({
          name: `http-${l.port}${suffix}`,
          port: l.port,
          command: 'http',
          vars: [
            ['http_address', address],
            ['http_port', l.port],
            ['http_ssl', l.tls],
            ...opt(l.tls && vhost !== undefined, 'http_sni', true),
            ...maybe('http_vhost', vhost === undefined ? undefined : macroText(vhost)),
            ['http_uri', macroText(s.monitoring.url)],
          ],
        });
      } else {
        checks.push({
          name: `tcp-${l.port}${suffix}`,
          port: l.port,
          command: 'tcp',
          vars: [['tcp_address', address], ['tcp_port', l.port], ...opt(l.tls, 'tcp_ssl', true)],
        });
      }
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
function checkCommand(b: BackendModel): Check['command'] {
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

function renderHost(w: ConfigWriter, h: HostObject): void {
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
    renderVars(w, c.vars, h.contacts);
    w.raw('}');
  }
}

/** Custom variables, then the contacts that notification apply rules read. */
function renderVars(w: ConfigWriter, vars: readonly Var[], contacts: string[]): void {
  for (const [k, v] of vars) w.line(`vars.${k} = ${icingaValue(v)}`);
  if (contacts.length > 0) w.line(`vars.notification_contacts = ${icingaValue(contacts)}`);
}

/** The variable when `when` holds, else nothing: spread into a list of variables. */
function opt(when: boolean, name: string, value: IcingaValue): Var[] {
  return when ? [[name, value]] : [];
}

/** The variable when it has a value, else nothing. */
function maybe(name: string, value: IcingaValue | undefined): Var[] {
  return value === undefined ? [] : [[name, value]];
}

function sorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compare);
}

/** Code-point order: unlike localeCompare, the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
