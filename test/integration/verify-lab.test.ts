import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseControl } from '../../src/deploy/control.ts';
import { openStore } from '../../src/deploy/store.ts';
import { setBackendMode } from '../../src/lab/backend-control.ts';
import { defaultLabDir, readState } from '../../src/lab/state.ts';
import { instancePaths } from '../../src/render/haproxy/paths.ts';
import { MasterClient } from '../../src/runtime/haproxy-client.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { cleanupLab, cli, eventually, inNs } from '../lab/lab-client.ts';

// examples/campus in the lab (BGP, as deployed), verified from the client and from a node; then
// broken one way at a time — each break undone before the next — and verify must name exactly the
// broken service and check. The site differs from examples/campus in one line: the intranet's allow
// list admits the client's own address only, so a second client address is a vantage point outside it.
const ROOT = new URL('../../', import.meta.url).pathname;
const CAMPUS = join(ROOT, 'examples/campus');
const PREFIX = 'ilbv-';
const DIR = defaultLabDir(PREFIX);
const OUTSIDE = '198.19.0.77';
const NODES = ['lb1', 'lb2'];

interface Report {
  ok: boolean;
  revision: string;
  results: { service: string; check: string; ok: boolean; detail: string }[];
}

describe('intentlb verify against the campus lab', { timeout: 900_000 }, () => {
  let site: string;
  let clientIf: string;
  const root = (node: string): string => join(DIR, 'nodes', node);
  const bird = (): string => readState(DIR)!.router.socket;

  /** verify --format json from a lab host; the failed checks as `service check`. */
  const verify = async (
    host: string,
    extra: string[] = [],
  ): Promise<{ failed: string[]; report: Report }> => {
    const r = await inNs(
      `${PREFIX}${host}`,
      ['node', join(ROOT, 'bin/intentlb.mjs'), 'verify', site, '--format', 'json', ...extra],
      60_000,
    );
    assert.ok(r.code === 0 || r.code === 1, `verify exit ${r.code}: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(r.code, report.ok ? 0 : 1, 'the exit code says what the report says');
    const failed = report.results.filter((x) => !x.ok).map((x) => `${x.service} ${x.check}`);
    return { failed, report };
  };
  const fromClient = () => verify('client', ['--bird', bird(), '--roots', join(DIR, 'nodes')]);
  const onNode = (node: string) => verify(node, ['--node', node, '--root', root(node)]);
  let last: string[] = [];
  /** Waits until the client's verify fails exactly `want` (sorted), and returns. */
  const clientFails = async (want: string[], what: string): Promise<void> => {
    await eventually(
      async () => {
        last = (await fromClient()).failed;
        return JSON.stringify(last) === JSON.stringify([...want].sort());
      },
      60_000,
      `${what}: verify fails ${JSON.stringify(want)} (last: ${JSON.stringify(last)})`,
    );
  };

  /** Edits an installed HAProxy instance on every node and reloads it (USR2 to its master), as a person would. */
  const editInstance = async (
    instance: string,
    edit: (cfg: string) => string,
  ): Promise<() => Promise<void>> => {
    const before = new Map<string, string>();
    for (const n of NODES) {
      const p = instancePaths(openStore(root(n)).layout, instance).config;
      const text = readFileSync(p, 'utf8');
      before.set(n, text);
      const changed = edit(text);
      assert.notEqual(changed, text, `the edit changes ${instance} on ${n}`);
      writeFileSync(p, changed);
      await reload(n, instance);
    }
    return async () => {
      for (const n of NODES) {
        writeFileSync(instancePaths(openStore(root(n)).layout, instance).config, before.get(n)!);
        await reload(n, instance);
      }
    };
  };
  const reload = async (node: string, instance: string): Promise<void> => {
    const paths = instancePaths(openStore(root(node)).layout, instance);
    const procs = await new MasterClient({ path: paths.masterSocket }, { timeoutMs: 3000 }).showProc();
    const master = procs.find((p) => p.type === 'master');
    assert.ok(master, `${instance} on ${node} has a master`);
    process.kill(master.pid, 'SIGUSR2');
  };

  before(async () => {
    requireRoot();
    for (const t of ['ip', 'haproxy', 'bird', 'keepalived', 'nft', 'openssl']) requireTool(t);
    await cleanupLab(PREFIX, DIR);
    site = mkdtempSync(join(tmpdir(), 'ilbv-site-'));
    cpSync(CAMPUS, site, { recursive: true });
    const intranet = join(site, 'services/web/intranet.yaml');
    const text = readFileSync(intranet, 'utf8');
    const narrowed = text.replace(/^allow: .*$/m, 'allow: [198.18.0.0/16, 198.19.0.2/32, "2001:db8::/32"]');
    assert.notEqual(narrowed, text);
    writeFileSync(intranet, narrowed);
    const up = await cli(['lab', 'up', site, '--prefix', PREFIX]);
    assert.equal(up.code, 0, `lab up failed:\n${up.stderr}`);
    const client = readState(DIR)!.topology.hosts.find((h) => h.name === 'client')!;
    assert.ok(
      client.addresses.some((a) => a.address === '198.19.0.2'),
      'the client has the address the site admits',
    );
    const links = JSON.parse((await inNs(`${PREFIX}client`, ['ip', '-j', 'link', 'show'])).stdout) as {
      ifname: string;
    }[];
    clientIf = links.find((l) => l.ifname !== 'lo')!.ifname;
    const add = await inNs(`${PREFIX}client`, ['ip', 'addr', 'add', `${OUTSIDE}/24`, 'dev', clientIf]);
    assert.equal(add.code, 0, add.stderr);
  });

  after(async () => {
    for (const h of ['wiki1', 'wiki2']) await setBackendMode(DIR, h, 'ok').catch(() => {});
    await cleanupLab(PREFIX, DIR);
    if (site !== undefined) rmSync(site, { recursive: true, force: true });
  });

  it('everything passes from the client and from each node, within the deadline', async () => {
    await clientFails([], 'the lab as deployed');
    const t0 = Date.now();
    const { report } = await fromClient();
    process.stderr.write(
      `# verify from the client: ${report.results.length} checks in ${Date.now() - t0} ms\n`,
    );
    const checks = new Set(report.results.map((r) => `${r.service} ${r.check}`));
    for (const c of [
      'it/api route:/v1/users',
      'web/typo3/events tls:versions',
      'web/intranet allow',
      'web/typo3/www port:443/v6',
      'research/mysql announce',
      'node:lb1 revision',
    ]) {
      assert.ok(checks.has(c), `${c} is checked`);
    }
    const allow = report.results.find((r) => r.service === 'web/intranet' && r.check === 'allow')!;
    assert.match(allow.detail, new RegExp(`refuses from ${OUTSIDE.replace(/\./g, '\\.')}`));
    for (const n of NODES) assert.deepEqual((await onNode(n)).failed, [], `verify --node ${n}`);
  });

  it('a backend group failing: web/wiki, and only it', async () => {
    for (const h of ['wiki1', 'wiki2']) await setBackendMode(DIR, h, 'fail503');
    try {
      await eventually(
        async () => {
          last = (await fromClient()).failed;
          return last.includes('web/wiki port:443');
        },
        60_000,
        'web/wiki port:443 fails',
      );
      assert.deepEqual(
        last.filter((f) => !f.startsWith('web/wiki ')),
        [],
        `only web/wiki fails: ${JSON.stringify(last)}`,
      );
    } finally {
      for (const h of ['wiki1', 'wiki2']) await setBackendMode(DIR, h, 'ok');
    }
    await clientFails([], 'wiki back');
  });

  it("a node's HAProxy killed: the client sees the VIP withdrawn there; the node's verify names the service", async () => {
    const control = chooseControl(openStore(root('lb1')).layout, false);
    await control.stop('haproxy@research-mysql');
    try {
      await clientFails(['research/mysql announce'], 'lb1 withdraws research/mysql');
      const node = await onNode('lb1');
      assert.ok(node.failed.includes('research/mysql port:3306'), JSON.stringify(node.failed));
      assert.ok(node.failed.includes('research/mysql health'), JSON.stringify(node.failed));
      assert.deepEqual(
        node.failed.filter((f) => !f.startsWith('research/mysql ')),
        [],
        `only research/mysql fails on lb1: ${JSON.stringify(node.failed)}`,
      );
      assert.deepEqual((await onNode('lb2')).failed, [], 'lb2 is fine');
    } finally {
      await control.start('haproxy@research-mysql');
    }
    await clientFails([], 'research/mysql back on lb1');
  });

  it('TLS policy drift: an instance edited by hand to allow TLS 1.0', async () => {
    const undo = await editInstance('web-typo3-events', (cfg) =>
      cfg
        .replace(/^ {4}ssl-default-bind-ciphers .*$/m, '    ssl-default-bind-ciphers DEFAULT@SECLEVEL=0')
        .replace(/^( {4}ssl-default-bind-options) ssl-min-ver TLSv1\.2/m, '$1 ssl-min-ver TLSv1.0'),
    );
    try {
      await clientFails(['web/typo3/events tls:versions'], 'TLS 1.0 accepted');
    } finally {
      await undo();
    }
    await clientFails([], 'the policy restored');
  });

  it('a route pointing to the wrong group', async () => {
    const undo = await editInstance('it-api', (cfg) =>
      cfg.replace(
        'use_backend be_it-api_route1 if { path /v1/users } || { path_beg /v1/users/ }',
        'use_backend be_it-api if { path /v1/users } || { path_beg /v1/users/ }',
      ),
    );
    try {
      await clientFails(['it/api route:/v1/users'], 'the route goes to the default group');
    } finally {
      await undo();
    }
    await clientFails([], 'the route restored');
  });

  it('an allow list ignored (HAProxy access list and nftables rule both gone)', async () => {
    const undo = await editInstance('web-intranet', (cfg) =>
      cfg.replace(/^ {4}tcp-request connection reject .*\n/m, ''),
    );
    try {
      for (const n of NODES) {
        const r = await inNs(`${PREFIX}${n}`, [
          'nft',
          'insert rule inet intentlb input ip daddr 198.18.100.13 tcp dport { 80, 443 } accept',
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
      await clientFails(['web/intranet allow'], 'the intranet answers from outside its list');
    } finally {
      await undo();
      for (const n of NODES) {
        const ruleset = join(openStore(root(n)).layout.etc, 'nftables/intentlb.nft');
        const r = await inNs(`${PREFIX}${n}`, ['nft', '-f', ruleset]);
        assert.equal(r.code, 0, r.stderr);
      }
    }
    await clientFails([], 'the allow list restored');
  });
});
