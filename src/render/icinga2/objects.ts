import type { BackendModel, Model, ServiceModel } from '../../model/index.ts';
import { ConfigWriter } from '../emit.ts';
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
export const renderIcinga2: Renderer = (model, node) => {
  const services = model.services.filter((s) => s.monitoring.icinga);
  const w = new ConfigWriter('  ');
  w.comment(HEADER, 0);
  w.comment(`site ${model.site.name}, node ${node.name}: service frontends and backend servers`, 0);
  for (const host of [...services.map((s) => serviceHost(model, s)), ...serverHosts(services)]) {
    renderHost(w, host);
  }
  return [{ path: 'icinga2/intentlb.conf', content: w.toString() }];
};

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

/** Servers deduplicated by name and address; a port's check comes from the first backend using it. */
function serverHosts(services: readonly ServiceModel[]): HostObject[] {
  const hosts = new Map<string, HostObject & { backends: Set<string>; contactSet: Set<string> }>();
  for (const s of services) {
    for (const b of [s.backend, ...s.routes.map((r) => r.backend)]) {
      for (const srv of b.servers) {
        const key = `${srv.name}@${srv.address}`;
        let host = hosts.get(key);
        if (host === undefined) {
          const family = srv.address.includes(':') ? 'address6' : 'address';
          host = {
            name: `server:${key}`,
            displayName: `${srv.name} (${srv.address})`,
            [family]: srv.address,
            vars: [],
            contacts: [],
            checks: [],
            backends: new Set(),
            contactSet: new Set(),
          };
          hosts.set(key, host);
        }
        host.backends.add(b.name);
        for (const c of s.monitoring.contacts) host.contactSet.add(c);
        const check = serverCheck(b, srv.address, b.check.port ?? srv.port);
        if (!host.checks.some((c) => c.name === check.name)) host.checks.push(check);
      }
    }
  }
  return [...hosts.values()]
    .sort((a, b) => compare(a.name, b.name))
    .map(({ backends, contactSet, ...host }) => ({
      ...host,
      contacts: sorted([...contactSet]),
      vars: [['intentlb_backends', sorted([...backends])]],
      checks: host.checks.sort((a, b) => a.port - b.port || compare(a.name, b.name)),
    }));
}

function serverCheck(b: BackendModel, address: string, port: number): Check {
  // A server that expects a PROXY header would take an HTTP request for a broken one.
  if (b.check.type !== 'http' || b.proxyProtocol !== undefined) {
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
  w.section(`object Host ${icingaValue(h.name)} {`);
  w.line(`display_name = ${icingaValue(h.displayName)}`);
  w.line('check_command = "hostalive"');
  if (h.address !== undefined) w.line(`address = ${icingaValue(h.address)}`);
  if (h.address6 !== undefined) w.line(`address6 = ${icingaValue(h.address6)}`);
  if (h.notes !== undefined) w.line(`notes = ${icingaValue(h.notes)}`);
  renderVars(w, h.vars, h.contacts);
  w.raw('}');
  for (const c of h.checks) {
    w.section(`object Service ${icingaValue(c.name)} {`);
    w.line(`host_name = ${icingaValue(h.name)}`);
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
