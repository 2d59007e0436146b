import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatListenSpec } from '../../src/lab/backend/listen-spec.ts';
import { type BackendPlan, type PlannedPort, planBackends } from '../../src/lab/backends.ts';
import { SETPRIV } from '../../src/lab/real/binaries.ts';
import {
  assignReal,
  locateBinaries,
  parseBackends,
  REAL_DAEMONS,
  REAL_PROTOCOLS,
  type RealInstance,
} from '../../src/lab/real/index.ts';
import type { RealDaemon } from '../../src/lab/real/types.ts';
import { deriveTopology, inventoryHosts } from '../../src/lab/topology.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { validateSite } from '../../src/validate/index.ts';
import { campus } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { withTempDir } from '../helpers/tools.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const LB = ['198.18.0.12', '198.18.0.11'];

async function campusPlans(): Promise<BackendPlan[]> {
  const model = await campus();
  const inventory = inventoryHosts(validateSite(load(diskFs(CAMPUS)).value).value!.groups);
  const t = deriveTopology({ model, inventory }, 'ilbu-');
  assert.ok(t.ok);
  const r = planBackends(model, t.topology);
  assert.ok(r.ok);
  return r.plans;
}

const port = (p: Partial<PlannedPort> & Pick<PlannedPort, 'protocol' | 'port'>): PlannedPort => ({
  address: '198.18.10.21',
  tls: false,
  ...p,
});

describe('lab up --backends: which ports Debian daemons serve', () => {
  it('parses builtin, real and real:<protocols>; anything else is refused', () => {
    assert.deepEqual(parseBackends('builtin'), []);
    assert.deepEqual(parseBackends('real'), [...REAL_PROTOCOLS]);
    assert.deepEqual(parseBackends('real:smtp,ldap'), ['ldap', 'smtp'], 'in the canonical order');
    for (const bad of ['', 'REAL', 'real:', 'real:http', 'real:ldap,imap', 'frr']) {
      assert.ok('error' in (parseBackends(bad) as object), bad);
    }
  });

  it('plans record the PROXY header HAProxy sends each port (examples/campus: smtp v1, ldap v2)', async () => {
    const plans = await campusPlans();
    const of = (host: string): PlannedPort[] => plans.find((p) => p.host === host)!.listen;
    assert.deepEqual(
      of('mx1').map((p) => [formatListenSpec(p), p.proxy]),
      [
        ['smtp:198.18.11.25:25', 'v1'],
        ['imap:198.18.11.25:143', undefined],
      ],
    );
    assert.equal(of('ldap1')[0]!.proxy, 'v2');
    assert.equal(of('db1')[0]!.proxy, undefined);
  });

  it('real: every ldap/smtp/mysql/pgsql/redis port of examples/campus goes to its daemon, the rest stays built-in', async () => {
    const plans = await campusPlans();
    const r = assignReal(plans, REAL_PROTOCOLS, LB);
    assert.deepEqual(r.kept, []);
    const real = (host: string): RealInstance[] => r.plans.find((p) => p.host === host)!.real ?? [];
    const builtin = (host: string): string[] =>
      r.plans.find((p) => p.host === host)!.listen.map(formatListenSpec);
    assert.deepEqual(real('mx1'), [
      {
        host: 'mx1',
        protocol: 'smtp',
        daemon: 'postfix',
        name: 'postfix-25',
        port: 25,
        addresses: ['198.18.11.25'],
        proxy: 'v1',
        trusted: ['198.18.0.11', '198.18.0.12'],
      },
    ]);
    assert.deepEqual(builtin('mx1'), ['imap:198.18.11.25:143'], 'IMAP has no real daemon');
    assert.deepEqual(
      real('ldap1').map((i) => [i.name, i.proxy]),
      [['slapd-389', 'v2']],
    );
    assert.deepEqual(
      real('db1').map((i) => i.name),
      ['mariadb-3306'],
    );
    assert.deepEqual(
      real('pg2').map((i) => i.name),
      ['postgresql-5432'],
    );
    assert.deepEqual(
      real('redis1').map((i) => i.name),
      ['redis-6379'],
    );
    assert.equal(real('web1').length, 0);
    assert.deepEqual(builtin('web1'), ['http:198.18.10.11:8080', 'http:198.18.10.11:8081']);
    const daemons = r.plans.flatMap((p) => p.real ?? []).length;
    assert.equal(daemons, r.plans.filter((p) => p.real !== undefined).length, 'one daemon per host here');
  });

  it('real:<protocols> moves only those; builtin moves none', async () => {
    const plans = await campusPlans();
    const only = assignReal(plans, ['smtp'], LB);
    assert.deepEqual(
      only.plans.flatMap((p) => p.real ?? []).map((i) => `${i.host}:${i.daemon}`),
      ['mx1:postfix', 'mx2:postfix'],
    );
    assert.deepEqual(assignReal(plans, [], LB).plans, plans);
  });

  it('one daemon per (protocol, port) on all the addresses asked for; ports it cannot take stay built-in, with the reason', () => {
    const plans: BackendPlan[] = [
      {
        host: 'h1',
        listen: [
          port({ protocol: 'redis', port: 6379, address: '2001:db8::21' }),
          port({ protocol: 'redis', port: 6379 }),
          port({ protocol: 'redis', port: 6380 }),
          port({ protocol: 'ldap', port: 389, proxy: 'v1' }),
          port({ protocol: 'ldap', port: 636, tls: true }),
          port({ protocol: 'pgsql', port: 5432, proxy: 'v2' }),
          port({ protocol: 'smtp', port: 25, proxy: 'mixed' }),
          port({ protocol: 'smtp', port: 587, proxy: 'v2' }),
          port({ protocol: 'smtp', port: 588, proxy: 'v1', address: '2001:db8::21' }),
          port({ protocol: 'smtp', port: 588 }),
          port({ protocol: 'http', port: 80 }),
        ],
      },
    ];
    const r = assignReal(plans, REAL_PROTOCOLS, LB);
    const [plan] = r.plans;
    assert.deepEqual(
      plan!.real!.map((i) => [i.name, i.addresses, i.proxy ?? 'none']),
      [
        ['postfix-587', ['198.18.10.21'], 'v2'],
        ['redis-6379', ['198.18.10.21', '2001:db8::21'], 'none'],
        ['redis-6380', ['198.18.10.21'], 'none'],
      ],
    );
    assert.deepEqual(plan!.listen.map(formatListenSpec), [
      'smtp:198.18.10.21:25',
      'http:198.18.10.21:80',
      'ldap:198.18.10.21:389',
      'smtp:198.18.10.21:588',
      'ldap:198.18.10.21:636:tls',
      'pgsql:198.18.10.21:5432',
      'smtp:[2001:db8::21]:588',
    ]);
    // One note per port kept, naming host and port (the wording is free).
    assert.deepEqual(r.kept.map((k) => k.split(':')[0]).sort(), [
      'h1 port 25 (smtp)',
      'h1 port 389 (ldap)',
      'h1 port 5432 (pgsql)',
      'h1 port 588 (smtp)',
      'h1 port 636 (ldap)',
    ]);
  });
});

describe('the real daemons', () => {
  const instance = (protocol: keyof typeof REAL_DAEMONS, proxy?: 'v1' | 'v2'): RealInstance => ({
    host: 'db_1',
    protocol,
    daemon: REAL_DAEMONS[protocol].daemon,
    name: `${REAL_DAEMONS[protocol].daemon}-1000`,
    port: 1000,
    addresses: ['198.18.10.21', '2001:db8::21'],
    ...(proxy !== undefined && { proxy }),
    trusted: ['198.18.0.11', '2001:db8::11'],
  });

  it('each descriptor takes the PROXY versions its daemon documents', () => {
    assert.deepEqual(Object.fromEntries(Object.values(REAL_DAEMONS).map((d) => [d.daemon, d.proxy])), {
      slapd: ['v2'],
      postfix: ['v1', 'v2'],
      mariadb: ['v1', 'v2'],
      postgresql: [],
      redis: [],
    });
    for (const p of REAL_PROTOCOLS) assert.equal(REAL_DAEMONS[p].protocol, p);
  });

  it('set up each instance as the goldens say (folders, files, commands, ready line)', () => {
    for (const p of REAL_PROTOCOLS) {
      const d = REAL_DAEMONS[p];
      const proxy = d.proxy.at(-1);
      const dir = `/lab/hosts/db_1/real/${d.daemon}-1000`;
      const s = d.setup(instance(p, proxy), dir, (b) => b);
      const text = [
        `# ${d.daemon}${proxy === undefined ? '' : ` with PROXY ${proxy}`}${d.user === undefined ? '' : `, as ${d.user}`}`,
        ...s.dirs.map((x) => `dir ${x.path} ${x.mode.toString(8)} ${x.owner ?? '-'}:${x.group ?? '-'}`),
        ...s.files.flatMap((f) => [
          `file ${f.path}`,
          ...f.text
            .trimEnd()
            .split('\n')
            .map((l) => `  ${l}`),
        ]),
        ...s.prepare.map((c) => `prepare ${JSON.stringify(c)}`),
        `start ${JSON.stringify(s.start)}`,
        `ready ${JSON.stringify(s.ready)}`,
      ].join('\n');
      assertGolden(`test/lab/golden/real/${d.daemon}.txt`, `${text}\n`);
      for (const f of s.files) assert.ok(!f.path.startsWith('/') && !f.path.includes('..'), f.path);
    }
  });

  it('without PROXY, no daemon is told to expect a header', () => {
    const slapd = REAL_DAEMONS.ldap.setup(instance('ldap'), '/d', (b) => b);
    assert.ok(
      slapd.start
        .at(-1)!
        .split(' ')
        .every((u) => u.startsWith('ldap://')),
    );
    const postfix = REAL_DAEMONS.smtp.setup(instance('smtp'), '/d', (b) => b);
    assert.doesNotMatch(postfix.files.map((f) => f.text).join(''), /upstream_proxy/);
    const mariadb = REAL_DAEMONS.mysql.setup(instance('mysql'), '/d', (b) => b);
    assert.doesNotMatch(mariadb.files.map((f) => f.text).join(''), /proxy-protocol/);
  });

  it('binaries: the highest version of a versioned folder; a missing one names its package; a user needs setpriv', async () => {
    await withTempDir((dir) => {
      for (const v of ['9.6', '15', '13', 'notes']) {
        mkdirSync(join(dir, v, 'bin'), { recursive: true });
        writeFileSync(join(dir, v, 'bin', 'db'), '#!/bin/sh\n');
        chmodSync(join(dir, v, 'bin', 'db'), 0o755);
      }
      const { user: _, ...pgsql } = REAL_DAEMONS.pgsql;
      const fake = (binaries: string[], user?: string): RealDaemon => ({
        ...pgsql,
        daemon: 'fakedb',
        package: 'fakedb-server',
        binaries,
        ...(user !== undefined && { user }),
      });
      const found = locateBinaries([fake([join(dir, '*', 'bin', 'db')])]);
      assert.ok(found.ok);
      assert.equal(found.paths.get(join(dir, '*', 'bin', 'db')), join(dir, '15', 'bin', 'db'));
      const missing = locateBinaries([fake([join(dir, 'nope'), join(dir, '*', 'bin', 'other')])]);
      assert.ok(!missing.ok);
      assert.equal(missing.problems.length, 1);
      assert.match(missing.problems[0]!, /fakedb-server/);
      assert.ok(missing.problems[0]!.includes(join(dir, 'nope')));
      assert.ok(missing.problems[0]!.includes(join(dir, '*', 'bin', 'other')));
      const bare = locateBinaries([fake([join(dir, '15', 'bin', 'db')])]);
      assert.ok(bare.ok && !bare.paths.has(SETPRIV));
      const withUser = locateBinaries([fake([join(dir, '15', 'bin', 'db')], 'postgres')]);
      assert.ok(withUser.ok && withUser.paths.get(SETPRIV) === SETPRIV, 'util-linux setpriv, found');
    });
  });
});
