import assert from 'node:assert/strict';
import { mkdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { classifyInstanceChange } from '../../src/deploy/haproxy-diff.ts';
import { acquireLock, LockedError } from '../../src/deploy/lock.ts';
import { certsOf, computePlan, describeAction } from '../../src/deploy/plan.ts';
import {
  currentGeneration,
  listGenerations,
  openStore,
  prune,
  readGeneration,
  StoreError,
  switchTo,
  writeApplied,
  writeGeneration,
} from '../../src/deploy/store.ts';
import { monitorEndpoint } from '../../src/deploy/system.ts';
import { withTempDir } from '../helpers/tools.ts';

const cfg = (servers: string, opts: { balance?: string; timeout?: string } = {}): string =>
  [
    'global',
    '    master-worker',
    '',
    'frontend monitor_a',
    '    bind 198.18.50.10:8999',
    '    monitor-uri /_intentlb/health',
    '',
    'backend be_a',
    `    balance ${opts.balance ?? 'roundrobin'}`,
    `    timeout server ${opts.timeout ?? '30s'}`,
    '    default-server inter 2s fall 3 rise 2',
    servers,
    '',
  ].join('\n');

const S1 = '    server web1 198.18.60.11:8080 check weight 100';
const S2 = '    server web2 198.18.60.12:8080 check weight 100';

describe('classifyInstanceChange', () => {
  const table: { name: string; before: string; after: string; expect: string }[] = [
    { name: 'identical', before: cfg(`${S1}\n${S2}`), after: cfg(`${S1}\n${S2}`), expect: 'none' },
    {
      name: 'weight',
      before: cfg(`${S1}\n${S2}`),
      after: cfg(`${S1.replace('100', '40')}\n${S2}`),
      expect: 'runtime: weight be_a/web1',
    },
    {
      name: 'address and port',
      before: cfg(`${S1}\n${S2}`),
      after: cfg(`${S1.replace('198.18.60.11:8080', '198.18.60.13:8081')}\n${S2}`),
      expect: 'runtime: addr be_a/web1',
    },
    {
      name: 'server added in a roundrobin backend',
      before: cfg(S1),
      after: cfg(`${S1}\n${S2}`),
      expect: 'runtime: add be_a/web2',
    },
    { name: 'server removed', before: cfg(`${S1}\n${S2}`), after: cfg(S1), expect: 'runtime: del be_a/web2' },
    {
      name: 'server added with a cookie (add server lacks it)',
      before: cfg(S1),
      after: cfg(`${S1}\n${S2} cookie web2`),
      expect: 'reload',
    },
    {
      name: 'server added to balance source',
      before: cfg(S1, { balance: 'source' }),
      after: cfg(`${S1}\n${S2}`, { balance: 'source' }),
      expect: 'reload',
    },
    { name: 'other setting', before: cfg(S1), after: cfg(S1, { timeout: '45s' }), expect: 'reload' },
    { name: 'server options', before: cfg(S1), after: cfg(`${S1} backup`), expect: 'reload' },
    { name: 'reordered', before: cfg(`${S1}\n${S2}`), after: cfg(`${S2}\n${S1}`), expect: 'reload' },
  ];
  for (const t of table) {
    it(t.name, () => {
      const c = classifyInstanceChange(t.before, t.after);
      const got =
        c.kind === 'runtime'
          ? `runtime: ${c.ops.map((o) => `${o.op} ${o.backend}/${o.server}`).join(', ')}`
          : c.kind;
      assert.equal(got, t.expect);
    });
  }

  it('a new server carries the default-server settings and its weight (add server ignores default-server)', () => {
    const c = classifyInstanceChange(cfg(S1), cfg(`${S1}\n${S2.replace('100', '7')}`));
    assert.equal(c.kind, 'runtime');
    if (c.kind === 'runtime')
      assert.deepEqual(c.ops[0], {
        op: 'add',
        backend: 'be_a',
        server: 'web2',
        address: '198.18.60.12',
        port: 8080,
        options: ['inter', '2s', 'fall', '3', 'rise', '2', 'check', 'weight', '7'],
      });
  });
});

describe('computePlan', () => {
  const flags = { manageAddresses: true, manageFirewall: true, anycast: true };
  const manifest = (addrs: Record<string, string[]>): string =>
    JSON.stringify({ instances: Object.entries(addrs).map(([name, addresses]) => ({ name, addresses })) });

  it('first install: every instance starts, addresses come first, services are (re)loaded', () => {
    const next = new Map([
      ['haproxy/a.cfg', cfg(S1)],
      ['bird/intentlb.conf', 'router id 1.2.3.4;'],
      ['healthd.yaml', 'node: lb1'],
      ['manifest.json', manifest({ a: ['198.18.50.10'] })],
    ]);
    const p = computePlan({ next, installed: new Map(), applied: new Map(), running: null, ...flags });
    assert.deepEqual(
      p.actions.map((a) => a.kind + (a.kind === 'service' ? ` ${a.service}` : '')),
      ['address-add', 'start', 'service bird', 'service healthd'],
    );
    assert.deepEqual(
      p.files.map((f) => `${f.change} ${f.path}`),
      ['added bird/intentlb.conf', 'added haproxy/a.cfg', 'added healthd.yaml'],
    );
  });

  it('only the changed instance reloads; a removed one stops and its address goes after', () => {
    const applied = new Map([
      ['haproxy/a.cfg', cfg(S1)],
      ['haproxy/b.cfg', cfg(S1)],
      ['haproxy/c.cfg', cfg(S1)],
      ['manifest.json', manifest({ a: ['198.18.50.10'], b: ['198.18.50.20'], c: ['198.18.50.30'] })],
    ]);
    const next = new Map([
      ['haproxy/a.cfg', cfg(S1, { timeout: '45s' })],
      ['haproxy/b.cfg', cfg(S1)],
      ['manifest.json', manifest({ a: ['198.18.50.10'], b: ['198.18.50.20'] })],
    ]);
    const p = computePlan({ next, installed: applied, applied, running: new Set(['a', 'b', 'c']), ...flags });
    assert.deepEqual(
      p.actions.map((a) => `${a.kind} ${'instance' in a ? a.instance : 'address' in a ? a.address : ''}`),
      ['reload a', 'stop c', 'address-remove 198.18.50.30'],
    );
  });

  it('an unchanged instance that is not running is started; a changed certificate reloads its user', () => {
    const tls = `${cfg(S1)}\nfrontend fe_a\n    bind 198.18.50.10:443 ssl crt ../certs/a.pem\n`;
    const applied = new Map([
      ['haproxy/a.cfg', tls],
      ['haproxy/b.cfg', cfg(S1)],
      ['certs/a.pem', 'old'],
    ]);
    const next = new Map([...applied, ['certs/a.pem', 'new']]);
    const p = computePlan({ next, installed: applied, applied, running: new Set(['a']), ...flags });
    assert.deepEqual(
      p.actions.map((a) => `${a.kind} ${'instance' in a ? a.instance : ''}`),
      ['reload a', 'start b'],
    );
    assert.match(p.files[0]!.diff, /content not shown/, 'keys never appear in a diff');
    assert.deepEqual(certsOf(tls), ['certs/a.pem']);
  });

  it('a node service that should run but does not is started, even with no file changed', () => {
    const tree = new Map([
      ['haproxy/a.cfg', cfg(S1)],
      ['bird/intentlb.conf', 'router id 1.2.3.4;'],
      ['healthd.yaml', 'node: lb1'],
      ['nftables/intentlb.nft', 'table inet intentlb {}'],
    ]);
    const plan = (services: ReadonlySet<string> | null | undefined) =>
      computePlan({
        next: tree,
        installed: tree,
        applied: tree,
        running: new Set(['a']),
        ...(services === undefined ? {} : { servicesRunning: services }),
        ...flags,
      }).actions.map((a) => describeAction(a).replace(/ +/g, ' '));
    assert.deepEqual(plan(new Set(['healthd'])), ['start bird (not running)']);
    // Both running, not known, or not asked: nothing; the ruleset has no process to start.
    assert.deepEqual(plan(new Set(['bird', 'healthd'])), []);
    assert.deepEqual(plan(null), []);
    assert.deepEqual(plan(undefined), []);
    // A service the node does not run (no anycast) is never started.
    assert.deepEqual(
      computePlan({
        next: tree,
        installed: tree,
        applied: tree,
        running: new Set(['a']),
        servicesRunning: new Set(),
        ...flags,
        anycast: false,
      }).actions,
      [],
    );
  });

  it('nftables, BIRD and healthd only when apply manages them', () => {
    const next = new Map([
      ['nftables/intentlb.nft', 'table inet intentlb {}'],
      ['healthd.yaml', 'x'],
    ]);
    const p = computePlan({
      next,
      installed: new Map(),
      applied: new Map(),
      running: null,
      manageAddresses: false,
      manageFirewall: false,
      anycast: false,
    });
    assert.deepEqual(p.actions, []);
  });
  it('a generation installed with other file modes is written anew; only masked secrets differ: no diff', () => {
    const files = (modes: Record<string, string> | undefined, pw: string) =>
      new Map([
        ['bird/intentlb.conf', `protocol bgp x {\n  password "${pw}";\n}\n`],
        ['manifest.json', JSON.stringify({ instances: [], ...(modes && { modes }) })],
      ]);
    const next = files({ 'bird/intentlb.conf': '0600' }, 'new');
    const old = files(undefined, 'old');
    const p = computePlan({ next, installed: old, applied: old, running: null, ...flags });
    assert.deepEqual(
      p.files.map((f) => `${f.change} ${f.path}`),
      ['changed bird/intentlb.conf', 'changed manifest.json'],
    );
    assert.match(p.files[0]!.diff, /secret values changed/);
    assert.doesNotMatch(JSON.stringify(p), /"(old|new)\\"/);
  });
});

describe('generations and the lock', () => {
  it('installs the BIRD configuration and certificate bundles 0600, other files 0644', async () => {
    await withTempDir((dir) => {
      const store = openStore(dir);
      const files = [
        { path: 'bird/intentlb.conf', content: 'protocol bgp x { password "pw"; }\n' },
        { path: 'certs/www.pem', content: '-----BEGIN PRIVATE KEY-----\n' },
        { path: 'haproxy/a.cfg', content: 'global\n' },
      ];
      switchTo(store, writeGeneration(store, files));
      const modes = files.map((f) => (statSync(join(store.layout.etc, f.path)).mode & 0o777).toString(8));
      assert.deepEqual(modes, ['600', '600', '644']);
    });
  });

  it('writes generations, switches the link atomically, prunes old ones but never current or applied', async () => {
    await withTempDir((dir) => {
      const store = openStore(dir);
      assert.equal(currentGeneration(store), null);
      const gens: number[] = [];
      for (let i = 0; i < 8; i++)
        gens.push(writeGeneration(store, [{ path: 'haproxy/a.cfg', content: `v${i}` }]));
      assert.deepEqual(gens, [1, 2, 3, 4, 5, 6, 7, 8]);
      switchTo(store, 2);
      writeApplied(store, { generation: 2, revision: 'r', at: 'now', previous: 1 });
      switchTo(store, 8);
      assert.equal(currentGeneration(store), 8);
      assert.match(readlinkSync(store.layout.etc), /generations\/000008$/);
      assert.equal(readGeneration(store, 8).get('haproxy/a.cfg'), 'v7');
      mkdirSync(join(store.generations, '000009.tmp-1'));
      prune(store, 3);
      assert.deepEqual(listGenerations(store), [2, 6, 7, 8]);
    });
  });

  it('refuses to replace a real /etc/intentlb directory', async () => {
    await withTempDir((dir) => {
      const store = openStore(dir);
      mkdirSync(store.layout.etc, { recursive: true });
      writeGeneration(store, [{ path: 'x', content: 'y' }]);
      assert.throws(() => switchTo(store, 1), StoreError);
    });
  });

  it('a held lock refuses a second apply; a dead owner’s lock is taken over', async () => {
    await withTempDir((dir) => {
      const path = join(dir, 'apply.lock');
      const release = acquireLock(path);
      writeFileSync(path, `${process.ppid}\n`); // a live process that is not us
      assert.throws(() => acquireLock(path), LockedError);
      writeFileSync(path, '999999999\n'); // no such process
      const again = acquireLock(path);
      again();
      release();
    });
  });

  it('a leftover temporary link is cleaned up', async () => {
    await withTempDir((dir) => {
      const store = openStore(dir);
      writeGeneration(store, [{ path: 'x', content: 'y' }]);
      switchTo(store, 1);
      symlinkSync('/nonexistent', `${store.layout.etc}.link-12345`);
      prune(store);
      assert.throws(() => readlinkSync(`${store.layout.etc}.link-12345`));
    });
  });
});

describe('monitorEndpoint', () => {
  it('reads the monitor frontend of an instance, IPv6 included', () => {
    assert.deepEqual(monitorEndpoint(cfg(S1), 'a'), {
      host: '198.18.50.10',
      port: 8999,
      path: '/_intentlb/health',
    });
    const v6 = cfg(S1).replace('bind 198.18.50.10:8999', 'bind [2001:db8::10]:8999');
    assert.deepEqual(monitorEndpoint(v6, 'a'), {
      host: '2001:db8::10',
      port: 8999,
      path: '/_intentlb/health',
    });
    assert.equal(monitorEndpoint(cfg(S1), 'b'), null);
  });

  it('uses the node-local stats frontend when the VIP binds transparent (VRRP)', () => {
    const vrrp = cfg(S1)
      .replace('bind 198.18.50.10:8999', 'bind 198.18.50.10:8999 transparent')
      .replace(
        '\nbackend be_a',
        '\nfrontend stats_a\n    bind 198.18.0.11:9100\n    monitor-uri /_intentlb/health\n\nbackend be_a',
      );
    assert.deepEqual(monitorEndpoint(vrrp, 'a'), {
      host: '198.18.0.11',
      port: 9100,
      path: '/_intentlb/health',
    });
  });
});
