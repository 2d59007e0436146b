import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deriveTopology,
  inventoryHosts,
  type LabTopology,
  type TopologyInput,
} from '../../src/lab/topology.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { Model } from '../../src/model/index.ts';
import { validateSite } from '../../src/validate/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { campus } from '../helpers/campus.ts';
import { compileFiles, type FileOverrides, withFiles, yaml } from '../helpers/site.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;

async function campusInput(): Promise<TopologyInput> {
  const groups = validateSite(load(diskFs(CAMPUS)).value).value!.groups;
  return { model: await campus(), inventory: inventoryHosts(groups) };
}

async function baseInput(over: FileOverrides = {}): Promise<TopologyInput> {
  const run = await compileFiles(withFiles(BASE_SITE, over));
  assert.ok(run.model, run.all.map((d) => `${d.code} ${d.message}`).join('\n'));
  return { model: run.model, inventory: inventoryHosts(validateSite(run.loaded).value!.groups) };
}

function ok(input: TopologyInput, prefix?: string): LabTopology {
  const r = deriveTopology(input, prefix);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  return r.topology;
}

function errors(input: TopologyInput): string[] {
  const r = deriveTopology(input);
  assert.ok(!r.ok, 'expected the topology to be refused');
  return r.errors;
}

const host = (t: LabTopology, name: string) => {
  const h = t.hosts.find((x) => x.name === name);
  assert.ok(h, `no host ${name}`);
  return h;
};
const addrs = (t: LabTopology, name: string): string[] =>
  host(t, name).addresses.map((a) => `${a.address}/${a.prefixLength}`);

describe('lab topology of examples/campus', () => {
  it('has the pinned host names: router, client, the LB nodes, every inventory host, explicit servers', async () => {
    const t = ok(await campusInput());
    const names = t.hosts.map((h) => h.name);
    assert.deepEqual(names.slice(0, 4), ['router', 'client', 'lb1', 'lb2']);
    for (const n of [
      'web1',
      'web2',
      'wiki1',
      'mx1',
      'ldap2',
      'api1',
      'opac2',
      'pg1',
      'git1',
      'redis2',
      'db1',
    ]) {
      assert.equal(host(t, n).role, 'backend', n);
    }
    assert.equal(host(t, 'ezproxy1').role, 'backend', 'explicit backend.servers entry');
    assert.equal(host(t, 'ezproxy2').role, 'backend');
    assert.equal(new Set(names).size, names.length, 'each host once (web1 is in two groups)');
    assert.equal(host(t, 'lb1').ns, 'ilb-lb1');
    assert.equal(host(t, 'router').ns, 'ilb-router');
  });

  it('keeps every address the site gives, v4 and v6, with the /24 or /64 around it', async () => {
    const t = ok(await campusInput());
    assert.deepEqual(addrs(t, 'lb1'), ['198.18.0.11/24', '2001:db8::11/64']);
    assert.deepEqual(addrs(t, 'git1'), ['198.18.14.11/24', '2001:db8:14::11/64']);
    assert.deepEqual(addrs(t, 'ezproxy2'), ['198.18.13.22/24']);
  });

  it('makes one segment per link: the /24 and /64 a host shares are one bridge', async () => {
    const t = ok(await campusInput());
    const seg = (bridge: string) => t.segments.find((s) => s.bridge === bridge)!;
    assert.deepEqual(seg(host(t, 'lb1').bridge).prefixes, ['198.18.0.0/24', '2001:db8::/64']);
    assert.deepEqual(seg(host(t, 'git1').bridge).prefixes, ['198.18.14.0/24', '2001:db8:14::/64']);
    assert.equal(host(t, 'redis1').bridge, host(t, 'git1').bridge, 'redis1 is in 198.18.14.0/24 too');
    assert.notEqual(host(t, 'web1').bridge, host(t, 'mx1').bridge);
    assert.deepEqual(
      t.segments.filter((s) => !s.client).flatMap((s) => s.prefixes),
      [
        '198.18.0.0/24',
        '2001:db8::/64',
        '198.18.10.0/24',
        '198.18.11.0/24',
        '198.18.12.0/24',
        '198.18.13.0/24',
        '198.18.14.0/24',
        '2001:db8:14::/64',
      ],
    );
  });

  it("gives the router the BGP peer's address on the nodes' segment and the first address elsewhere", async () => {
    const t = ok(await campusInput());
    const router = addrs(t, 'router');
    assert.ok(router.includes('198.18.0.1/24'), 'rr1');
    for (const a of ['2001:db8::1/64', '198.18.10.1/24', '198.18.14.1/24', '2001:db8:14::1/64']) {
      assert.ok(router.includes(a), a);
    }
    assert.equal(t.routerId, '198.18.0.1');
    assert.equal(host(t, 'lb1').gateway4, '198.18.0.1');
    assert.equal(host(t, 'lb1').gateway6, '2001:db8::1');
    assert.equal(host(t, 'web1').gateway4, '198.18.10.1');
    assert.equal(host(t, 'web1').gateway6, undefined, 'no IPv6 address, no IPv6 route');
  });

  it('puts the client on a segment of its own that collides with nothing in the site', async () => {
    const input = await campusInput();
    const t = ok(input);
    const client = host(t, 'client');
    assert.deepEqual(addrs(t, 'client'), ['198.19.0.2/24', '2001:db8:ffff::2/64']);
    const seg = t.segments.find((s) => s.bridge === client.bridge)!;
    assert.ok(seg.client);
    assert.deepEqual(
      seg.router.map((a) => a.address),
      ['198.19.0.1', '2001:db8:ffff::1'],
    );
    assert.equal(client.gateway4, '198.19.0.1');
    assert.equal(client.gateway6, '2001:db8:ffff::1');
  });

  it('lists every VIP with its instance', async () => {
    const t = ok(await campusInput());
    assert.equal(t.vips.length, 16);
    assert.deepEqual(
      t.vips.filter((v) => v.instance === 'web-typo3-www').map((v) => `${v.address}/${v.prefixLength}`),
      ['198.18.100.10/32', '2001:db8:100::10/128'],
    );
  });

  it('prefixes namespaces as asked, and names veth ends in the router after the host', async () => {
    const t = ok(await campusInput(), 'ilbt7-');
    assert.equal(host(t, 'client').ns, 'ilbt7-client');
    assert.equal(host(t, 'ezproxy1').port, 'v-ezproxy1');
    assert.ok(t.hosts.every((h) => h.port.length <= 15));
    assert.equal(deriveTopology(await campusInput(), 'bad prefix').ok, false);
  });
});

describe('lab topology, table of edge cases', () => {
  it('refuses a site with addresses outside 198.18.0.0/15 and 2001:db8::/32, naming them', async () => {
    const e = errors(
      await baseInput({
        'inventory.yaml': yaml(
          'groups:',
          '  app:',
          '    hosts: { app1: 10.1.2.3, app2: 198.18.10.12 }',
          '  db:',
          '    hosts: { db1: 198.18.11.11, db2: "2001:db9::5" }',
        ),
      }),
    );
    const text = e.join('\n');
    assert.match(text, /198\.18\.0\.0\/15 and 2001:db8::\/32/);
    assert.match(text, /10\.1\.2\.3 \(inventory host app1\)/);
    assert.match(text, /2001:db9::5 \(inventory host db2\)/);
  });

  it('refuses hosts named like the pinned router and client', async () => {
    const e = errors(
      await baseInput({
        'inventory.yaml': yaml(
          'groups:',
          '  app:',
          '    hosts: { router: 198.18.10.11, app2: 198.18.10.12 }',
          '  db:',
          '    hosts: { client: 198.18.11.11 }',
        ),
      }),
    );
    assert.ok(e.some((x) => /"router"/.test(x)));
    assert.ok(e.some((x) => /"client"/.test(x)));
  });

  it('refuses one address claimed by two hosts', async () => {
    const e = errors(
      await baseInput({
        'inventory.yaml': yaml(
          'groups:',
          '  app:',
          '    hosts: { app1: 198.18.10.11, app2: 198.18.10.11 }',
          '  db:',
          '    hosts: { db1: 198.18.11.11 }',
        ),
      }),
    );
    assert.match(
      e.join('\n'),
      /198\.18\.10\.11 is claimed by inventory host app1 and by inventory host app2/,
    );
  });

  it('refuses a BGP peer that is not on a segment of the LB nodes', async () => {
    const input = await baseInput();
    const model: Model = structuredClone(input.model);
    model.site.ha.bgp!.peers = [{ name: 'far', address: '198.18.50.1', as: 65000 }];
    assert.match(
      errors({ ...input, model }).join('\n'),
      /BGP peer far \(198\.18\.50\.1\) is not on a segment/,
    );
  });

  it('gives the router the next free address when a host sits on the first one', async () => {
    const t = ok(
      await baseInput({
        'inventory.yaml': yaml(
          'groups:',
          '  app:',
          '    hosts: { app1: 198.18.10.1, app2: 198.18.10.12 }',
          '  db:',
          '    hosts: { db1: 198.18.11.11 }',
        ),
      }),
    );
    assert.ok(addrs(t, 'router').includes('198.18.10.2/24'));
    assert.equal(host(t, 'app2').gateway4, '198.18.10.2');
  });

  it('moves the client segment past a team pool that covers 198.19.0.0/16, and fails when nothing is free', async () => {
    const input = await baseInput();
    const model: Model = structuredClone(input.model);
    model.site.teams.push({
      name: 'x',
      path: 'x',
      vipPools: ['198.19.0.0/16', '2001:db8:ff00::/40'],
      ports: [],
    });
    const t = ok({ ...input, model });
    assert.deepEqual(addrs(t, 'client'), ['198.18.255.2/24', '2001:db8:feff::2/64']);
    model.site.teams.push({ name: 'y', path: 'y', vipPools: ['198.18.0.0/15'], ports: [] });
    assert.match(errors({ ...input, model }).join('\n'), /no \/24 in 198\.18\.0\.0\/15 is free/);
  });

  it('refuses a VIP that is also a host address', async () => {
    // `check` refuses such a site (E_VIP_NODE, E_BACKEND_ADDRESS); the lab does not rely on it.
    const input = await baseInput();
    const inventory = input.inventory.map((h) =>
      h.name === 'app1' ? { ...h, address: '198.18.100.10' } : h,
    );
    const e = errors({ ...input, inventory });
    assert.match(e.join('\n'), /VIP 198\.18\.100\.10 of web-www is also the address of inventory host app1/);
  });

  it('merges an explicit server into the inventory host of the same name and address', async () => {
    const t = ok(
      await baseInput({
        'services/web/www.yaml': yaml(
          'fqdn: www.test.example',
          'vip: 198.18.100.10',
          'backend:',
          '  group: app',
          '  port: 8080',
          '  servers: [{ name: spare, address: 198.18.12.5, backup: true }]',
        ),
      }),
    );
    assert.deepEqual(addrs(t, 'spare'), ['198.18.12.5/24']);
    assert.deepEqual(addrs(t, 'db2'), ['198.18.11.12/24', '2001:db8:11::12/64']);
    assert.equal(host(t, 'lb2').gateway6, undefined, 'lb2 has no IPv6 address');
  });
});
