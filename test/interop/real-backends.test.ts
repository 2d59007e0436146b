import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { rootLayout } from '../../src/deploy/store.ts';
import { isAlive, type LabProcess } from '../../src/lab/processes.ts';
import { locateBinaries, REAL_DAEMONS, REAL_PROTOCOLS, realKind } from '../../src/lab/real/index.ts';
import { LDAP_SUFFIX } from '../../src/lab/real/slapd.ts';
import { defaultLabDir, type LabState, readState } from '../../src/lab/state.ts';
import { instancePaths } from '../../src/render/haproxy/paths.ts';
import { HaproxyClient } from '../../src/runtime/haproxy-client.ts';
import { familyOf } from '../../src/vocabulary/strings.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { cleanupLab, cli, eventually, inNs } from '../lab/lab-client.ts';

// `intentlb lab up --backends real`: Debian's slapd, postfix, mariadb, postgresql and redis on two
// database hosts behind one VIP per protocol. HAProxy's protocol checks must find them UP, real
// clients must work through the VIPs, the PROXY header must reach the daemons that take one, and a
// daemon stopped by its PID must go DOWN. VIPs are routed statically: BGP is not the subject here.
const SITE = new URL('./sites/real/', import.meta.url).pathname;
const PREFIX = 'ilbx-';
const DIR = defaultLabDir(PREFIX);
const CLIENT = `${PREFIX}client`;

/** Each VIP of the site: its HAProxy instance (= service), its backend, the daemon behind it. */
const VIPS = {
  ldap: { vip: '198.18.100.1', daemon: 'slapd' },
  smtp: { vip: '198.18.100.2', daemon: 'postfix' },
  mysql: { vip: '198.18.100.3', daemon: 'mariadb' },
  pgsql: { vip: '198.18.100.4', daemon: 'postgresql' },
  redis: { vip: '198.18.100.5', daemon: 'redis' },
} as const;
type Service = keyof typeof VIPS;
const SERVICES = Object.keys(VIPS) as Service[];
const SERVERS = { db1: '198.18.10.21', db2: '198.18.10.22' } as const;

interface ServerState {
  status: string;
  check: string;
}

describe('lab up --backends real: Debian daemons behind the VIPs', { timeout: 600_000 }, () => {
  let state: LabState;
  let client4: string;

  /** The servers of a service's backend as its node's HAProxy sees them. */
  const servers = async (service: Service): Promise<Map<string, ServerState>> => {
    const node = state.nodes.find((n) => n.name === 'lb1')!;
    const socket = instancePaths(rootLayout(node.root), service).adminSocket;
    const rows = await new HaproxyClient({ path: socket }, { timeoutMs: 2000 }).showStat();
    return new Map(
      rows
        .filter((r) => r.pxname === `be_${service}` && r.svname !== 'BACKEND')
        .map((r) => [r.svname, { status: r.status ?? '', check: r.check_status ?? '' }]),
    );
  };
  const expectState = async (service: Service, want: Record<string, 'UP' | 'DOWN'>): Promise<void> => {
    let seen = '';
    await eventually(
      async () => {
        const s = await servers(service);
        seen = JSON.stringify([...s]);
        return Object.entries(want).every(([name, st]) => (s.get(name)?.status ?? '').startsWith(st));
      },
      20_000,
      `${service}: servers ${JSON.stringify(want)} (last seen ${seen})`,
    );
  };
  const daemonOf = (host: string, daemon: string): LabProcess => {
    const p = state.processes.find((x) => x.host === host && x.kind === realKind(daemon));
    assert.ok(p, `${daemon} on ${host} is recorded in the lab's state`);
    return p;
  };
  const run = async (command: string[], env: Record<string, string> = {}): Promise<string> => {
    const withEnv =
      Object.keys(env).length === 0
        ? command
        : ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...command];
    const r = await inNs(CLIENT, withEnv);
    assert.equal(r.code, 0, `${command.join(' ')} from the client: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  /** One real client query through each VIP; returns what identifies the answering server. */
  const query: Record<Service, () => Promise<string>> = {
    ldap: async () => {
      const out = await run([
        'ldapsearch',
        '-x',
        '-LLL',
        '-H',
        `ldap://${VIPS.ldap.vip}`,
        '-b',
        '',
        '-s',
        'base',
        'namingContexts',
      ]);
      assert.match(out, new RegExp(`^namingContexts: ${LDAP_SUFFIX}$`, 'm'));
      return out;
    },
    smtp: async () => {
      // curl's SMTP client: EHLO, then the command (NOOP), then QUIT.
      const r = await inNs(CLIENT, [
        'curl',
        '-sv',
        '--max-time',
        '5',
        `smtp://${VIPS.smtp.vip}/client.lab.invalid`,
        '-X',
        'NOOP',
      ]);
      assert.equal(r.code, 0, `curl smtp: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /^> EHLO client\.lab\.invalid/m);
      const banner = /^< 250-(\S+)/m.exec(r.stderr);
      assert.ok(banner, `no EHLO answer:\n${r.stderr}`);
      return banner[1]!;
    },
    mysql: async () => {
      const out = await run([
        'mariadb',
        '-h',
        VIPS.mysql.vip,
        '-u',
        'lab',
        '-plab',
        '-N',
        '-B',
        '-e',
        'SELECT USER(), @@bind_address',
      ]);
      const [user, bound] = out.trim().split('\t');
      return `${user} ${bound}`;
    },
    pgsql: async () =>
      (
        await run(
          ['psql', '-h', VIPS.pgsql.vip, '-U', 'lab', '-d', 'postgres', '-Atc', 'SELECT inet_server_addr()'],
          {
            PGPASSWORD: 'lab',
            PGCONNECT_TIMEOUT: '5',
          },
        )
      ).trim(),
    redis: async () => {
      const out = await run(['redis-cli', '-h', VIPS.redis.vip, 'PING']);
      assert.equal(out.trim(), 'PONG');
      return out.trim();
    },
  };

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'bird', 'curl', 'ldapsearch', 'mariadb', 'psql', 'redis-cli'])
      requireTool(t);
    // A daemon that is not installed fails the test here, naming its package (never a skip).
    const bins = locateBinaries(REAL_PROTOCOLS.map((p) => REAL_DAEMONS[p]));
    assert.ok(bins.ok, bins.ok ? '' : bins.problems.join('\n'));
    await cleanupLab(PREFIX, DIR);
    const t0 = Date.now();
    const r = await cli(['lab', 'up', SITE, '--static-vips', '--backends', 'real', '--prefix', PREFIX]);
    assert.equal(r.code, 0, `lab up failed:\n${r.stderr}`);
    process.stderr.write(
      `# lab up --backends real: ${Date.now() - t0} ms\n${r.stderr.replace(/^/gm, '# ')}\n`,
    );
    state = readState(DIR)!;
    client4 = state.topology.hosts
      .find((h) => h.name === 'client')!
      .addresses.map((a) => a.address)
      .find((a) => familyOf(a) === 4)!;
  });

  after(async () => {
    await cleanupLab(PREFIX, DIR);
  });

  it('runs one daemon per protocol on each database host, and no built-in server', () => {
    for (const host of Object.keys(SERVERS)) {
      const plan = state.backends.find((b) => b.host === host);
      assert.ok(plan, host);
      assert.deepEqual(plan.listen, [], `${host}: every port is a real daemon's`);
      assert.deepEqual(
        (plan.real ?? []).map((i) => i.daemon).sort(),
        SERVICES.map((s) => VIPS[s].daemon).sort(),
        host,
      );
      for (const s of SERVICES) {
        const p = daemonOf(host, VIPS[s].daemon);
        assert.ok(isAlive(p), `${VIPS[s].daemon} on ${host} runs`);
        assert.ok(p.log.startsWith(`${DIR}/`), 'its log is in the lab');
      }
    }
    assert.equal(state.processes.filter((p) => p.kind === 'backend').length, 0);
    const proxies = Object.fromEntries(
      (state.backends[0]!.real ?? []).map((i) => [i.protocol, i.proxy ?? 'none']),
    );
    assert.deepEqual(proxies, { ldap: 'v2', smtp: 'v1', mysql: 'v2', pgsql: 'none', redis: 'none' });
  });

  it("HAProxy's protocol checks mark every real daemon UP", async () => {
    for (const s of SERVICES) {
      await expectState(s, { db1: 'UP', db2: 'UP' });
      // HAProxy prefixes "* " while a check is in progress; the last result follows.
      for (const [name, st] of await servers(s))
        assert.equal(st.check.replace(/^\* /, ''), 'L7OK', `${s}/${name}: a layer-7 check`);
    }
  });

  it('real clients work through every VIP: ldapsearch, SMTP EHLO, mariadb, psql, redis-cli', async () => {
    assert.match(await query.smtp(), /^db[12]\.lab\.invalid$/);
    await query.ldap();
    assert.match(await query.mysql(), /^lab@\S+ 198\.18\.10\.2[12]$/);
    assert.match(await query.pgsql(), /^198\.18\.10\.2[12]$/);
    await query.redis();
  });

  it('PROXY protocol: slapd, postfix and MariaDB see the client, not the load balancer', async () => {
    const user = await query.mysql();
    assert.ok(user.startsWith(`lab@${client4} `), `MariaDB saw ${user}; the client is ${client4}`);
    await query.smtp();
    await query.ldap();
    const logs = (daemon: string): string =>
      Object.keys(SERVERS)
        .map((h) => readFileSync(daemonOf(h, daemon).log, 'utf8'))
        .join('');
    await eventually(
      () => logs('postfix').includes(`connect from unknown[${client4}]`),
      5000,
      "postfix's log names the client",
    );
    await eventually(
      () => new RegExp(`ACCEPT from IP=${client4.replace(/\./g, '\\.')}:\\d+ `).test(logs('slapd')),
      5000,
      "slapd's log names the client",
    );
    // Without PROXY, PostgreSQL sees the LB node.
    const lb1 = state.topology.hosts.find((h) => h.name === 'lb1')!.addresses[0]!.address;
    const seen = (
      await run(
        ['psql', '-h', VIPS.pgsql.vip, '-U', 'lab', '-d', 'postgres', '-Atc', 'SELECT inet_client_addr()'],
        {
          PGPASSWORD: 'lab',
        },
      )
    ).trim();
    assert.equal(seen, lb1);
  });

  it('a daemon stopped by its PID goes DOWN in HAProxy; the VIP keeps serving from the other host', async () => {
    for (const s of SERVICES) {
      const p = daemonOf('db2', VIPS[s].daemon);
      process.kill(p.pid, 'SIGTERM');
      await eventually(() => !isAlive(p), 15_000, `${VIPS[s].daemon} on db2 stops`);
      await expectState(s, { db1: 'UP', db2: 'DOWN' });
      const answer = await query[s]();
      if (s === 'smtp') assert.equal(answer, 'db1.lab.invalid');
      if (s === 'mysql' || s === 'pgsql')
        assert.ok(answer.endsWith(SERVERS.db1), `${s} answered by db1: ${answer}`);
    }
  });
});
