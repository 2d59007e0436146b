import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatListenSpec } from '../../src/lab/backend/listen-spec.ts';
import { planBackends } from '../../src/lab/backends.ts';
import { FLOW_TABLE, flowPinning, flowPinningOff } from '../../src/lab/flow-pinning.ts';
import { BLACKHOLE_TABLE, blackholeScript, linkLines } from '../../src/lab/link.ts';
import { preflight } from '../../src/lab/preflight.ts';
import { deriveTopology, inventoryHosts, type LabTopology } from '../../src/lab/topology.ts';
import { planUnwiring, planWiring, ROUTER_SYSCTLS } from '../../src/lab/wiring-plan.ts';
import { diskFs, load } from '../../src/load/index.ts';
import type { Model } from '../../src/model/index.ts';
import { validateSite } from '../../src/validate/index.ts';
import { campus } from '../helpers/campus.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;

async function campusLab(mutate?: (m: Model) => void): Promise<{ model: Model; topology: LabTopology }> {
  const model = structuredClone(await campus());
  mutate?.(model);
  const inventory = inventoryHosts(validateSite(load(diskFs(CAMPUS)).value).value!.groups);
  const r = deriveTopology({ model, inventory }, 'ilbu-');
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  return { model, topology: r.topology };
}

describe('backend hosts of the lab', () => {
  it('serve every (address, port) of examples/campus with the protocol its check implies', async () => {
    const { model, topology } = await campusLab();
    const r = planBackends(model, topology);
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    const of = (host: string): string[] => r.plans.find((p) => p.host === host)!.listen.map(formatListenSpec);
    assert.deepEqual(of('web1'), ['http:198.18.10.11:8080', 'http:198.18.10.11:8081']);
    assert.deepEqual(of('api1'), [
      'http:198.18.12.11:8000',
      'http:198.18.12.11:8001',
      'http:198.18.12.11:8002',
    ]);
    assert.deepEqual(of('mx1'), ['smtp:198.18.11.25:25', 'imap:198.18.11.25:143']);
    assert.deepEqual(of('ldap1'), ['ldap:198.18.11.31:389']);
    assert.deepEqual(of('pg2'), ['pgsql:198.18.13.32:5432']);
    assert.deepEqual(of('db1'), ['mysql:198.18.14.41:3306']);
    assert.deepEqual(of('redis1'), ['redis:198.18.14.31:6379']);
    assert.deepEqual(of('ezproxy2'), ['tcp:198.18.13.22:3128'], 'the backup server is a host too');
    assert.deepEqual(of('git2'), ['http:198.18.14.12:8080', 'http:198.18.14.12:8081']);
    assert.equal(r.plans.length, 22);
  });

  it('speak TLS where the server expects it, and listen on a separate check port', async () => {
    const { model, topology } = await campusLab((m) => {
      const www = m.services.find((s) => s.id === 'web/typo3/www')!;
      www.backend.ssl = true;
      const ldap = m.services.find((s) => s.id === 'it/ldap')!;
      ldap.backend.check.port = 1389;
    });
    const r = planBackends(model, topology);
    // typo3/events sends plain HTTP to the same servers and port: one process cannot answer both.
    assert.ok(!r.ok, 'typo3/events still wants plain HTTP on web1:8080');
    assert.match(
      r.errors.join('\n'),
      /web1 port 8080: backend be_web-typo3-events needs http but backend be_web-typo3-www needs http over TLS/,
    );
    const again = await campusLab((m) => {
      for (const s of m.services.filter((x) => x.id.startsWith('web/typo3/'))) s.backend.ssl = true;
      m.services.find((s) => s.id === 'it/ldap')!.backend.check.port = 1389;
    });
    const ok = planBackends(again.model, again.topology);
    assert.ok(ok.ok, ok.ok ? '' : ok.errors.join('\n'));
    const of = (host: string): string[] =>
      ok.plans.find((p) => p.host === host)!.listen.map(formatListenSpec);
    assert.deepEqual(of('web1'), ['http:198.18.10.11:8080:tls', 'http:198.18.10.11:8081']);
    assert.deepEqual(of('ldap1'), ['ldap:198.18.11.31:389', 'ldap:198.18.11.31:1389']);
  });
});

describe('lab wiring plan', () => {
  it('creates namespaces from the root namespace and nothing else there', async () => {
    const { topology } = await campusLab();
    const plan = planWiring(topology);
    const [root, router, hosts] = plan.phases;
    assert.equal(root!.length, 1);
    assert.equal(root![0]!.ns, undefined);
    assert.ok(root![0]!.lines.every((l) => /^netns add ilbu-[a-z0-9]+$/.test(l)));
    assert.equal(root![0]!.lines.length, topology.hosts.length);
    assert.ok(
      [...router!, ...hosts!].every((b) => b.ns?.startsWith('ilbu-')),
      'everything else inside the lab',
    );
    assert.deepEqual(planUnwiring(plan.namespaces).lines.slice(0, 2), [
      'netns delete ilbu-router',
      'netns delete ilbu-client',
    ]);
  });

  it('builds one bridge per segment in the router and a veth straight into each host', async () => {
    const { topology } = await campusLab();
    const [, [router]] = planWiring(topology).phases as [unknown, [{ ns: string; lines: string[] }]];
    assert.equal(router.ns, 'ilbu-router');
    assert.ok(router.lines.includes('link add br0 type bridge mcast_snooping 0'));
    assert.ok(router.lines.includes('addr add 198.18.0.1/24 dev br0'));
    assert.ok(router.lines.includes('addr add 2001:db8::1/64 dev br0 nodad'));
    assert.ok(router.lines.includes('link add v-lb1 type veth peer name eth0 netns ilbu-lb1'));
    assert.ok(router.lines.includes('link set v-lb1 master br0'));
    assert.ok(router.lines.includes('link add v-client type veth peer name eth0 netns ilbu-client'));
    assert.equal(router.lines.filter((l) => / type bridge /.test(l)).length, topology.segments.length);
  });

  it('gives each host its addresses and default routes via the router', async () => {
    const { topology } = await campusLab();
    const hosts = planWiring(topology).phases[2]!;
    assert.deepEqual(hosts.find((b) => b.ns === 'ilbu-git1')!.lines, [
      'link set lo up',
      'addr add 198.18.14.11/24 dev eth0',
      'addr add 2001:db8:14::11/64 dev eth0 nodad',
      'link set eth0 up',
      'route add default via 198.18.14.1',
      'route add default via 2001:db8:14::1',
    ]);
    assert.deepEqual(hosts.find((b) => b.ns === 'ilbu-client')!.lines.slice(-2), [
      'route add default via 198.19.0.1',
      'route add default via 2001:db8:ffff::1',
    ]);
  });

  it('sets forwarding and L4 multipath hashing in the router namespace only', async () => {
    const { topology } = await campusLab();
    const plan = planWiring(topology);
    assert.deepEqual(plan.sysctls, [{ ns: 'ilbu-router', settings: ROUTER_SYSCTLS }]);
    assert.deepEqual(Object.fromEntries(ROUTER_SYSCTLS), {
      'net.ipv4.ip_forward': '1',
      'net.ipv6.conf.all.forwarding': '1',
      'net.ipv4.fib_multipath_hash_policy': '1',
      'net.ipv6.fib_multipath_hash_policy': '1',
    });
  });

  it('names a VRRP node interface as the site does', async () => {
    const { topology } = await campusLab((m) => {
      m.site.ha = {
        mode: 'vrrp',
        vrrp: { interface: 'ens3', routerIdBase: 50, unicast: true, advertInt: 1000 },
      };
    });
    const router = planWiring(topology).phases[1]![0]!;
    assert.ok(router.lines.includes('link add v-lb1 type veth peer name ens3 netns ilbu-lb1'));
    assert.ok(router.lines.includes('link add v-web1 type veth peer name eth0 netns ilbu-web1'));
  });
});

describe('lab preflight', () => {
  it('names root and every missing tool with its package, in one message', () => {
    const found = new Set(['ip', 'haproxy']);
    const problems = preflight(['ip', 'haproxy', 'bird', 'nft'], 1000, (t) =>
      found.has(t) ? `/x/${t}` : undefined,
    );
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /needs root/);
    assert.match(problems[1]!, /missing: bird \(apt-get install bird2\), nft \(apt-get install nftables\)/);
    assert.deepEqual(
      preflight(['ip'], 0, () => '/sbin/ip'),
      [],
    );
  });
});

describe('lab link', () => {
  it('up restores the addresses (IPv6 without DAD) and both default routes that link down flushed', async () => {
    const { topology } = await campusLab();
    const lb1 = topology.hosts.find((h) => h.name === 'lb1')!;
    assert.deepEqual(linkLines(lb1, 'down'), ['link set eth0 down']);
    assert.deepEqual(linkLines(lb1, 'up'), [
      'link set eth0 up',
      'addr replace 198.18.0.11/24 dev eth0',
      'addr replace 2001:db8::11/64 dev eth0 nodad',
      'route replace default via 198.18.0.1',
      'route replace default via 2001:db8::1',
    ]);
  });

  it('blackhole drops both directions on the link only; its removal works whether or not it is there', async () => {
    const { topology } = await campusLab();
    const lb1 = topology.hosts.find((h) => h.name === 'lb1')!;
    const on = blackholeScript(lb1, true);
    assert.match(on, /hook prerouting priority raw - 10; iifname "eth0" drop;/);
    assert.match(on, /hook output priority raw - 10; oifname "eth0" drop;/);
    assert.equal(
      blackholeScript(lb1, false),
      `add table inet ${BLACKHOLE_TABLE}\ndelete table inet ${BLACKHOLE_TABLE}\n`,
    );
  });
});

describe('flow pinning on the lab router', () => {
  it('marks each new connection with the LB node its packets leave for; one table per node', async () => {
    const { topology } = await campusLab();
    const router = topology.hosts.find((h) => h.role === 'router')!;
    const p = flowPinning(topology);
    assert.match(p.nft, /hook postrouting priority mangle;/);
    assert.match(
      p.nft,
      /ct direction original ct state new meta nfproto ipv4 ct mark set rt ip nexthop map \{ 198\.18\.0\.11 : 1001, 198\.18\.0\.12 : 1002 \}/,
    );
    assert.match(
      p.nft,
      /ct direction original ct state new meta nfproto ipv6 ct mark set rt ip6 nexthop map \{ 2001:db8::11 : 1001, 2001:db8::12 : 1002 \}/,
    );
    // Only established connections follow their mark: a SYN sent again is routed afresh.
    assert.match(
      p.nft,
      /hook prerouting priority mangle;[^}]*ct direction original ct state established ct mark != 0 meta mark set ct mark/,
    );
    assert.deepEqual(p.ip, [
      {
        ns: router.ns,
        family: 4,
        lines: [
          'rule add fwmark 1001 table 1001 priority 1001',
          'route add default via 198.18.0.11 table 1001',
          'rule add fwmark 1002 table 1002 priority 1002',
          'route add default via 198.18.0.12 table 1002',
        ],
      },
      {
        ns: router.ns,
        family: 6,
        lines: [
          'rule add fwmark 1001 table 1001 priority 1001',
          'route add default via 2001:db8::11 table 1001',
          'rule add fwmark 1002 table 1002 priority 1002',
          'route add default via 2001:db8::12 table 1002',
        ],
      },
    ]);
    assert.equal(flowPinningOff(), `add table inet ${FLOW_TABLE}\ndelete table inet ${FLOW_TABLE}\n`);
  });
});
