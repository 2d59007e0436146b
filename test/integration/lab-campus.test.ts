import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeSearchEntry } from '../../src/lab/backend/protocols/ldap.ts';
import { setBackendMode } from '../../src/lab/backend-control.ts';
import { isAlive } from '../../src/lab/processes.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import type { Model } from '../../src/model/index.ts';
import { BirdClient } from '../../src/runtime/bird-client.ts';
import { familyOf } from '../../src/vocabulary/strings.ts';
import { campus } from '../helpers/campus.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import {
  cleanupLab,
  cli,
  curlIn,
  eventually,
  mountsWith,
  namespacesWith,
  probeIn,
} from '../lab/lab-client.ts';

// examples/campus brought up for real with `intentlb lab up` — the LB nodes deployed by
// `intentlb supervise` + `intentlb apply` inside their namespaces — and used from the client.
// VIPs are routed statically (`--static-vips`) so the test does not depend on the health checker's
// announcements; the router's BGP side is covered by lab-wiring.test.ts.
const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const PREFIX = 'ilbc-';
const DIR = defaultLabDir(PREFIX);
/** A search under this base DN makes the lab's LDAP backend describe the session (see ldap.ts). */
const LDAP_SESSION_SEARCH = '3017020102631204' + '0a636e3d73657373696f6e' + '0a01000a0100';

interface Echo {
  host: string;
  port: number;
  client: string;
  headers: Record<string, string>;
}

describe('intentlb lab up examples/campus, used from the client', { timeout: 300_000 }, () => {
  let model: Model;
  let state: LabState;
  let client4: string;
  let client6: string;
  const client = `${PREFIX}client`;
  const bracket = (a: string): string => (familyOf(a) === 6 ? `[${a}]` : a);
  const get = (name: string, vip: string, port: number, tls: boolean, path: string, extra: string[] = []) =>
    curlIn(client, [
      '--resolve',
      `${name}:${port}:${bracket(vip)}`,
      ...extra,
      `${tls ? 'https' : 'http'}://${name}:${port}${path}`,
    ]);
  const ezproxyHost = async (): Promise<string> =>
    (await probeIn(client, { host: '198.18.102.20', port: 3128, until: '\n' })).split(' ')[0] ?? '';

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'bird', 'keepalived', 'nft', 'curl']) requireTool(t);
    await cleanupLab(PREFIX, DIR);
    model = await campus();
    const t0 = Date.now();
    const r = await cli(['lab', 'up', CAMPUS, '--static-vips', '--prefix', PREFIX]);
    assert.equal(r.code, 0, `lab up failed:\n${r.stderr}`);
    process.stderr.write(`# lab up examples/campus: ${Date.now() - t0} ms\n`);
    state = readState(DIR)!;
    const addrs = state.topology.hosts.find((h) => h.name === 'client')!.addresses.map((a) => a.address);
    client4 = addrs.find((a) => familyOf(a) === 4)!;
    client6 = addrs.find((a) => familyOf(a) === 6)!;
  });

  after(async () => {
    await setBackendMode(DIR, 'ezproxy1', 'ok').catch(() => {});
    await cleanupLab(PREFIX, DIR);
  });

  it('every HTTP service answers through its VIPs on every port: served, redirected as intended', async () => {
    const http = model.services.filter((s) => s.protocol === 'http');
    assert.ok(http.length >= 9);
    for (const s of http) {
      const servers = new Set(
        [s.backend, ...s.routes.map((r) => r.backend)].flatMap((b) => b.servers.map((x) => x.name)),
      );
      for (const vip of [s.vip, s.vip6].filter((v) => v !== undefined)) {
        const name = s.fqdns[0] ?? vip;
        for (const l of s.listeners) {
          const what = `${s.id} ${bracket(vip)}:${l.port}`;
          const r = await get(name, vip, l.port, l.tls, '/lab-e2e?x=1');
          if (servers.size === 0) {
            const redirect = s.redirects[0]!;
            assert.equal(r.status, redirect.code, what);
            assert.match(
              r.headers,
              new RegExp(`^location: ${redirect.to.replace(/[.?]/g, '\\$&')}`, 'im'),
              what,
            );
          } else if (l.role === 'redirect-https') {
            assert.equal(r.status, 301, what);
            assert.match(
              r.headers,
              new RegExp(`^location: https://${name.replace(/\./g, '\\.')}/lab-e2e\\?x=1`, 'im'),
            );
          } else {
            assert.equal(r.status, 200, `${what}: ${r.headers}`);
            const body = r.json<Echo>();
            assert.ok(servers.has(body.host), `${what} answered by ${body.host}`);
            assert.equal(body.headers['x-forwarded-for'], familyOf(vip) === 4 ? client4 : client6, what);
            assert.equal(body.headers['x-forwarded-proto'], l.tls ? 'https' : 'http', what);
          }
        }
      }
    }
  });

  it('port 80: www redirects to https, the wiki passes plain HTTP to its servers', async () => {
    const www = await get('www.campus.example', '198.18.100.10', 80, false, '/a?b=1');
    assert.equal(www.status, 301);
    assert.match(www.headers, /^location: https:\/\/www\.campus\.example\/a\?b=1/im);
    const wiki = await get('wiki.campus.example', '198.18.100.12', 80, false, '/x');
    assert.equal(wiki.status, 200);
    const body = wiki.json<Echo>();
    assert.match(body.host, /^wiki[12]$/);
    assert.equal(body.headers['x-forwarded-proto'], 'http');
    assert.equal(body.headers['x-forwarded-for'], client4);
    const v6 = (await get('www.campus.example', '2001:db8:100::10', 443, true, '/')).json<Echo>();
    assert.equal(v6.headers['x-forwarded-for'], client6, 'dual-stack VIP, over IPv6');
  });

  it('path routes reach their own backend', async () => {
    for (const [path, port] of [
      ['/v1/users/42', 8001],
      ['/v2/things', 8002],
      ['/other', 8000],
    ] as const) {
      const body = (await get('api.campus.example', '198.18.101.40', 443, true, path)).json<Echo>();
      assert.match(body.host, /^api[12]$/, path);
      assert.equal(body.port, port, path);
    }
  });

  it('TCP services: SMTP greets, IMAPS over TLS, Redis, PostgreSQL and MySQL answer through their VIPs', async () => {
    assert.match(
      await probeIn(client, { host: '198.18.101.25', port: 25, until: '\r\n' }),
      /^220 mx[12] ESMTP/,
    );
    assert.match(
      await probeIn(client, { host: '198.18.101.25', port: 993, tls: true, until: '\r\n' }),
      /^\* OK .*mx[12] /,
    );
    assert.match(
      await probeIn(client, { host: '198.18.103.31', port: 6379, sendHex: '50494e470d0a', until: '\r\n' }),
      /^\+PONG/,
    );
    assert.equal(
      await probeIn(client, { host: '198.18.102.30', port: 5432, sendHex: '0000000804d2162f', until: 'N' }),
      'N',
      'PostgreSQL declines SSL',
    );
    const mysql = await probeIn(client, { host: '198.18.103.32', port: 3306, ms: 1000 });
    assert.equal(mysql.charCodeAt(4), 0x0a, 'a protocol-10 handshake');
  });

  it("PROXY v2 brings the client's own address to the LDAP servers", async () => {
    const res = await probeIn(client, {
      host: '198.18.101.30',
      port: 389,
      sendHex: LDAP_SESSION_SEARCH,
      until: '\x65\x07\x0a\x01\x00',
    });
    const entry = decodeSearchEntry(Buffer.from(res, 'latin1'));
    assert.match(entry?.host ?? '', /^ldap[12]$/, res);
    assert.equal(entry?.client, client4, 'the server saw the client, not the LB node');
  });

  it('the backup server takes over when the primary fails, and gives back when it recovers', async () => {
    assert.equal(await ezproxyHost(), 'ezproxy1');
    await setBackendMode(DIR, 'ezproxy1', 'refuse');
    const streak = async (want: string): Promise<boolean> => {
      for (let i = 0; i < 4; i++) if ((await ezproxyHost()) !== want) return false;
      return true;
    };
    await eventually(() => streak('ezproxy2'), 30_000, 'ezproxy2 (backup) serves on both nodes');
    await setBackendMode(DIR, 'ezproxy1', 'ok');
    await eventually(() => streak('ezproxy1'), 30_000, 'ezproxy1 serves again');
  });

  it('lab status shows every host and process up and each VIP routed to both nodes', async () => {
    const r = await cli(['lab', 'status', '--prefix', PREFIX, '--format', 'json']);
    assert.equal(r.code, 0, r.stdout);
    const st = JSON.parse(r.stdout) as { routes: { vip: string; kernel: string[] }[] };
    assert.equal(st.routes.length, 16);
    for (const route of st.routes) assert.equal(route.kernel.length, 2, route.vip);
  });

  it('lab apply re-deploys a changed site: new VIP routed, backend hosts follow their new ports', async () => {
    const changed = mkdtempSync(join(tmpdir(), 'intentlb-labc-site-'));
    try {
      cpSync(CAMPUS, changed, { recursive: true });
      const intranet = join(changed, 'services/web/intranet.yaml');
      writeFileSync(intranet, readFileSync(intranet, 'utf8').replace('port: 8081', 'port: 8082'));
      writeFileSync(
        join(changed, 'services/web/news.yaml'),
        'fqdn: news.campus.example\nvip: 198.18.100.14\nbackend:\n  group: intranet\n  port: 8083\n',
      );
      writeFileSync(
        join(changed, 'dns.yaml'),
        `${readFileSync(join(changed, 'dns.yaml'), 'utf8')}news.campus.example: 198.18.100.14\n`,
      );
      const r = await cli(['lab', 'apply', changed, '--prefix', PREFIX]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /restarting backend hosts web1, web2/);
      // The restarted backends are found by HAProxy's health checks (every 2 s, rise 2).
      await eventually(
        async () => (await get('news.campus.example', '198.18.100.14', 443, true, '/')).status === 200,
        30_000,
        'the new service serves',
      );
      const news = (await get('news.campus.example', '198.18.100.14', 443, true, '/')).json<Echo>();
      assert.deepEqual([news.port, news.headers['x-forwarded-for']], [8083, client4]);
      await eventually(
        async () =>
          (await get('intranet.campus.example', '198.18.100.13', 443, true, '/')).json<Echo>().port === 8082,
        30_000,
        'intranet on its new backend port',
      );

      writeFileSync(
        join(changed, 'inventory.yaml'),
        `${readFileSync(join(changed, 'inventory.yaml'), 'utf8')}  extra:\n    hosts: { extra1: 198.18.15.5 }\n`,
      );
      const refused = await cli(['lab', 'apply', changed, '--prefix', PREFIX]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /new host extra1.*lab down/);
    } finally {
      rmSync(changed, { recursive: true, force: true });
    }
  });

  it('lab down leaves no namespace, process, mount or file behind', async () => {
    const recorded = readState(DIR)!.processes;
    assert.ok(recorded.some((p) => p.kind === 'supervise'));
    const t0 = Date.now();
    const r = await cli(['lab', 'down', '--prefix', PREFIX]);
    assert.equal(r.code, 0, r.stderr);
    process.stderr.write(`# lab down: ${Date.now() - t0} ms\n`);
    assert.deepEqual(namespacesWith(PREFIX), []);
    assert.deepEqual(
      recorded.filter(isAlive).map((p) => `${p.kind} ${p.pid}`),
      [],
    );
    assert.deepEqual(mountsWith(`/run/netns/${PREFIX}`), []);
    assert.deepEqual(mountsWith(DIR), []);
    assert.equal(existsSync(DIR), false);
  });
});

describe('intentlb lab up examples/campus, VIPs by BGP (the default)', { timeout: 300_000 }, () => {
  const prefix = 'ilbg-';
  const dir = defaultLabDir(prefix);
  const client = `${prefix}client`;
  const routesOf = async (vip: string): Promise<{ bird: string[]; kernel: string[] }> => {
    const r = await cli(['lab', 'status', '--prefix', prefix, '--format', 'json']);
    const st = JSON.parse(r.stdout) as {
      routes: { vip: string; router: { protocol: string }[]; kernel: string[] }[];
    };
    const route = st.routes.find((x) => x.vip === vip)!;
    return { bird: route.router.map((b) => b.protocol).sort(), kernel: [...route.kernel].sort() };
  };

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'bird', 'keepalived', 'nft', 'curl']) requireTool(t);
    await cleanupLab(prefix, dir);
  });

  after(async () => {
    for (const h of ['wiki1', 'wiki2']) await setBackendMode(dir, h, 'ok').catch(() => {});
    await cleanupLab(prefix, dir);
  });

  it('the router learns every VIP from both nodes by BGP and routes each over both (ECMP)', async () => {
    const t0 = Date.now();
    const r = await cli(['lab', 'up', CAMPUS, '--prefix', prefix]);
    assert.equal(r.code, 0, r.stderr);
    process.stderr.write(`# lab up examples/campus (BGP): ${Date.now() - t0} ms\n`);
    // lab up waited for the announcements; a BFD flap on a starved machine may still take a session
    // down for a moment, so the full picture is awaited, not assumed.
    const complete = async (): Promise<boolean> => {
      const st = JSON.parse(
        (await cli(['lab', 'status', '--prefix', prefix, '--format', 'json'])).stdout,
      ) as {
        healthy: boolean;
        bgp: { name: string; info: string }[];
        routes: { vip: string; router: { protocol: string }[]; kernel: string[] }[];
      };
      return (
        st.healthy &&
        st.bgp.map((b) => `${b.name} ${b.info}`).join() === 'rr1_lb1 Established,rr1_lb2 Established' &&
        st.routes.length === 16 &&
        st.routes.every(
          (x) =>
            x.router
              .map((b) => b.protocol)
              .sort()
              .join() === 'rr1_lb1,rr1_lb2' && x.kernel.length === 2,
        )
      );
    };
    await eventually(complete, 90_000, 'every VIP learnt from rr1_lb1 and rr1_lb2, ECMP in the kernel');
    const body = (
      await curlIn(client, [
        '--resolve',
        'www.campus.example:443:[2001:db8:100::10]',
        'https://www.campus.example/',
      ])
    ).json<Echo>();
    assert.match(body.host, /^web[12]$/);
  });

  it('a VIP whose servers all fail is withdrawn by both nodes, and announced again when they recover', async () => {
    const wiki = '198.18.100.12';
    try {
      for (const h of ['wiki1', 'wiki2']) await setBackendMode(dir, h, 'refuse');
      await eventually(async () => (await routesOf(wiki)).kernel.length === 0, 60_000, 'wiki VIP withdrawn');
      await eventually(
        async () =>
          (await routesOf('198.18.100.10')).kernel.length === 2 && (await routesOf(wiki)).kernel.length === 0,
        90_000,
        'the other VIPs stay announced by both nodes while the wiki VIP stays withdrawn',
      );
    } finally {
      for (const h of ['wiki1', 'wiki2']) await setBackendMode(dir, h, 'ok');
    }
    await eventually(async () => (await routesOf(wiki)).kernel.length === 2, 90_000, 'wiki VIP back on both');
    const r = await curlIn(client, [
      '--resolve',
      `wiki.campus.example:80:${wiki}`,
      'http://wiki.campus.example/',
    ]);
    assert.equal(r.status, 200);
  });

  it('lab apply adding a VIP keeps every announced route at the router, from both nodes (ADR 0026)', async (t) => {
    // Each node's apply runs `birdc configure`; with a plain `disabled;` per VIP protocol that
    // withdrew every VIP of the node until healthd re-enabled it, and the router lost the node's
    // path for each of them. Watched: VIPs the change does not touch.
    const watched = ['198.18.100.10/32', '198.18.100.11/32', '198.18.100.12/32', '198.18.100.13/32'];
    const both = 'rr1_lb1,rr1_lb2';
    const router = () => BirdClient.connect(join(dir, 'router', 'bird.ctl'), { timeoutMs: 5000 });
    const pathsOf = async (c: BirdClient, prefix: string) =>
      (await c.showRoute(prefix))
        .map((r) => r.protocol)
        .sort()
        .join();
    await eventually(
      async () => {
        const c = await router();
        try {
          for (const p of watched) if ((await pathsOf(c, p)) !== both) return false;
          return true;
        } finally {
          c.close();
        }
      },
      90_000,
      'every watched VIP learnt from both nodes before the change',
    );
    const changed = mkdtempSync(join(tmpdir(), 'intentlb-labg-site-'));
    const watch = { on: true, polls: 0, lost: [] as string[], flaps: [] as string[], lostAt: [] as number[] };
    const poller = (async () => {
      const c = await router();
      try {
        while (watch.on) {
          const sessions = new Map((await c.showProtocols()).map((p) => [p.name, p.info]));
          for (const p of watched) {
            const paths = await pathsOf(c, p);
            if (paths === both) continue;
            // A BFD flap on a starved machine takes the whole session down: not the configure.
            const established = ['rr1_lb1', 'rr1_lb2'].every((s) => sessions.get(s) === 'Established');
            (established ? watch.lost : watch.flaps).push(`${p} [${paths}]`);
            if (established) watch.lostAt.push(performance.now());
          }
          watch.polls++;
        }
      } finally {
        c.close();
      }
    })();
    try {
      cpSync(CAMPUS, changed, { recursive: true });
      // On the intranet hosts' existing port: no backend host restarts, nothing else changes.
      writeFileSync(
        join(changed, 'services/web/news.yaml'),
        'fqdn: news.campus.example\nvip: 198.18.100.14\nbackend:\n  group: intranet\n  port: 8081\n',
      );
      writeFileSync(
        join(changed, 'dns.yaml'),
        `${readFileSync(join(changed, 'dns.yaml'), 'utf8')}news.campus.example: 198.18.100.14\n`,
      );
      const r = await cli(['lab', 'apply', changed, '--prefix', prefix]);
      assert.equal(r.code, 0, r.stderr);
      // Its protocol exists only once each node's BIRD re-read its configuration.
      await eventually(
        async () => (await routesOf('198.18.100.14')).bird.join() === both,
        90_000,
        'the new VIP announced by both nodes once its checks rise',
      );
    } finally {
      watch.on = false;
      await poller;
      rmSync(changed, { recursive: true, force: true });
    }
    t.diagnostic(`${watch.polls} polls of the router; session flaps seen: ${watch.flaps.length}`);
    assert.ok(watch.polls > 20, `polled ${watch.polls} times`);
    const span = watch.lostAt.length === 0 ? 0 : Math.round(watch.lostAt.at(-1)! - watch.lostAt[0]!);
    assert.deepEqual(
      watch.lost.slice(0, 8),
      [],
      `the router lost a node's path with its BGP session up (${watch.lost.length} times over ${span} ms)`,
    );
  });

  it('lab down leaves nothing behind', async () => {
    const r = await cli(['lab', 'down', '--prefix', prefix]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(namespacesWith(prefix), []);
    assert.deepEqual(mountsWith(`/run/netns/${prefix}`), []);
    assert.equal(existsSync(dir), false);
  });
});
