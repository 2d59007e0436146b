import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { foldInspect, formatRows, rowsHealthy } from '../../src/rollout/inspect.ts';
import { renderInventory } from '../../src/rollout/inventory.ts';
import { renderInspectPlaybook, renderPlaybook } from '../../src/rollout/playbook.ts';
import { foldEvents, rolloutResult, type TaskEvent } from '../../src/rollout/result.ts';
import { siteCommit, writeArchive } from '../../src/rollout/revision.ts';
import { runRollout } from '../../src/rollout/run.ts';
import { StageError, stageSite } from '../../src/rollout/stage.ts';
import { campus } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

const CAMPUS = new URL('../../examples/campus/', import.meta.url).pathname;
const NODES = ['lb1', 'lb2'];

describe('rollout: the generated playbook and inventory', () => {
  it('renders the same bytes for the same options (goldens)', async () => {
    assertGolden(
      'test/rollout/golden/playbook-serial1.yml',
      renderPlaybook({ serial: '1', verify: true, drain: false }),
    );
    assertGolden(
      'test/rollout/golden/playbook-half-drain-noverify.yml',
      renderPlaybook({ serial: '50%', verify: false, drain: true }),
    );
    assertGolden('test/rollout/golden/inventory-campus.yml', renderInventory(await campus()));
    assertGolden('test/rollout/golden/inspect.yml', renderInspectPlaybook());
  });

  it('ansible-playbook accepts the playbook (--syntax-check)', async () => {
    requireTool('ansible-playbook');
    await withTempDir((dir) => {
      for (const [i, o] of [
        { serial: '1', verify: true, drain: false },
        { serial: '50%', verify: false, drain: true },
      ].entries()) {
        const p = join(dir, `p${i}.yml`);
        writeFileSync(p, renderPlaybook(o));
        execFileSync('ansible-playbook', ['--syntax-check', '-i', 'localhost,', p], { stdio: 'pipe' });
      }
      const p = join(dir, 'inspect.yml');
      writeFileSync(p, renderInspectPlaybook());
      execFileSync('ansible-playbook', ['--syntax-check', '-i', 'localhost,', p], { stdio: 'pipe' });
    });
  });
});

const ev = (
  host: string,
  step: TaskEvent['step'],
  status: TaskEvent['status'],
  extra: Partial<TaskEvent> = {},
) => ({ host, step, status, start: 1, end: 2, ...extra }) as TaskEvent;

describe('rollout: node outcomes from task events', () => {
  const cases: {
    name: string;
    events: TaskEvent[];
    selected?: string[];
    verify?: boolean;
    states: string[];
    ok: boolean;
  }[] = [
    {
      name: 'both nodes applied with --verify: verified',
      events: NODES.flatMap((h) => [ev(h, 'stage', 'ok'), ev(h, 'apply', 'ok')]),
      verify: true,
      states: ['verified', 'verified'],
      ok: true,
    },
    {
      name: 'verify off: applied',
      events: NODES.flatMap((h) => [ev(h, 'stage', 'ok'), ev(h, 'apply', 'ok')]),
      states: ['applied', 'applied'],
      ok: true,
    },
    {
      name: 'verify fails on the first node: apply rolled it back, the second never reached',
      events: [
        ev('lb1', 'apply', 'failed', {
          rc: 1,
          stderr: 'verify failed (web/x health): rolling the node back\nthe node is back on generation 3',
        }),
        ev('lb1', 'rollback', 'skipped'),
        ev('lb1', 'stop', 'failed'),
      ],
      verify: true,
      states: ['rolled_back', 'pending'],
      ok: false,
    },
    {
      name: 'a step after apply fails (undrain): the playbook rolls the node back',
      events: [
        ev('lb1', 'apply', 'ok'),
        ev('lb1', 'undrain', 'failed', { rc: 1 }),
        ev('lb1', 'rollback', 'ok'),
        ev('lb1', 'stop', 'failed'),
      ],
      states: ['rolled_back', 'pending'],
      ok: false,
    },
    {
      name: 'apply fails and rolls itself back; the playbook does not roll back again',
      events: [
        ev('lb1', 'apply', 'failed', { rc: 1, stderr: 'apply failed: x\nthe node is back on generation 3' }),
        ev('lb1', 'rollback', 'skipped'),
        ev('lb1', 'stop', 'failed'),
      ],
      states: ['rolled_back', 'pending'],
      ok: false,
    },
    {
      name: 'apply refused by validation: nothing changed, failed',
      events: [
        ev('lb1', 'apply', 'failed', { rc: 1 }),
        ev('lb1', 'rollback', 'skipped'),
        ev('lb1', 'stop', 'failed'),
      ],
      states: ['failed', 'pending'],
      ok: false,
    },
    {
      name: 'unreachable node',
      events: [ev('lb1', 'stage', 'unreachable', { msg: 'ssh: connect refused' })],
      states: ['failed', 'pending'],
      ok: false,
    },
    {
      name: 'a failed rollback is a failure',
      events: [ev('lb1', 'apply', 'ok'), ev('lb1', 'undrain', 'failed'), ev('lb1', 'rollback', 'failed')],
      states: ['failed', 'pending'],
      ok: false,
    },
    {
      name: '--nodes lb2: lb1 skipped',
      selected: ['lb2'],
      events: [ev('lb2', 'apply', 'ok')],
      states: ['skipped', 'applied'],
      ok: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = foldEvents(NODES, c.selected ?? NODES, c.events, 'abc', c.verify === true);
      assert.deepEqual(
        out.map((n) => n.state),
        c.states,
      );
      const r = rolloutResult('abc', out);
      assert.equal(r.ok, c.ok);
      for (const n of r.nodes) {
        assert.deepEqual(Object.keys(n), ['name', 'state', 'revision', 'detail']);
        assert.equal(n.revision, n.state === 'applied' || n.state === 'verified' ? 'abc' : '');
      }
    });
  }
});

/**
 * The real ansible-playbook over a local connection, with a stand-in for `intentlb` on the nodes
 * that records its arguments and fails where a file says so: the playbook's control flow (order,
 * stop at the first failure, rollback only after a successful apply) with Ansible's own engine.
 */
describe('rollout: the playbook run by ansible-playbook (local connection)', { timeout: 600_000 }, () => {
  const fake = (dir: string): string => {
    const script = join(dir, 'fake-intentlb.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'if [ "$1" = stage ]; then mkdir -p "$2" && base64 -d | tar -xz -C "$2"; exit; fi',
        // apply --stage: the archive on stdin goes to <site> first
        'case " $* " in *" --stage "*) mkdir -p "$2" && base64 -d | tar -xz -C "$2" || exit 1;; esac',
        'node=""; prev=""',
        'for a in "$@"; do [ "$prev" = "--node" ] && node="$a"; prev="$a"; done',
        `echo "$node $*" >> ${dir}/calls.log`,
        `step="$1"; [ "$2" = "--rollback" ] && step=rollback`,
        `[ -e ${dir}/fail-$step-$node ] && { echo "$step failed on $node" >&2; exit 1; }`,
        // apply --verify on the node: a failed check rolls the node back itself (as apply does)
        `case " $* " in *" --verify "*) [ -e ${dir}/fail-verify-$node ] && { echo "verify failed: rolling the node back" >&2; echo "the node is back on generation 1" >&2; exit 1; };; esac`,
        'exit 0',
      ].join('\n'),
    );
    return script;
  };

  const setup = async (dir: string) => {
    requireTool('ansible-playbook');
    requireTool('git');
    const site = join(dir, 'site');
    cpSync(CAMPUS, site, { recursive: true });
    const git = (...a: string[]) => execFileSync('git', ['-C', site, ...a], { stdio: 'pipe' });
    git('init', '-q');
    git('-c', 'user.email=t@example.org', '-c', 'user.name=t', 'add', '.');
    git('-c', 'user.email=t@example.org', '-c', 'user.name=t', 'commit', '-qm', 'site');
    const script = fake(dir);
    const inv = join(dir, 'nodes.yml');
    writeFileSync(
      inv,
      JSON.stringify({
        all: {
          hosts: Object.fromEntries(
            NODES.map((n) => [
              n,
              { ansible_connection: 'local', intentlb_root: join(dir, n), intentlb_command: ['sh', script] },
            ]),
          ),
        },
      }),
    );
    const revision = siteCommit(site)!;
    assert.match(revision, /^[0-9a-f]{40}$/);
    return { site, inv, revision, model: await campus() };
  };
  const calls = (dir: string): string[] =>
    existsSync(join(dir, 'calls.log')) ? readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n') : [];

  it('stages the revision, then apply --verify node by node', async () => {
    await withTempDir(async (dir) => {
      const s = await setup(dir);
      const r = await runRollout({
        model: s.model,
        siteDir: s.site,
        revision: s.revision,
        selected: NODES,
        serial: '1',
        verify: true,
        drain: false,
        inventories: [s.inv],
      });
      assert.equal(r.code, 0, r.log === null ? '' : readFileSync(r.log, 'utf8'));
      assert.deepEqual(
        r.outcomes.map((n) => n.state),
        ['verified', 'verified'],
      );
      const steps = calls(dir).map((l) => l.split(' ').slice(0, 2).join(' '));
      assert.deepEqual(steps, ['lb1 apply', 'lb2 apply']);
      for (const c of calls(dir)) assert.ok(c.endsWith(' --verify'), c);
      const staged = join(dir, 'lb1', 'var/lib/intentlb/sites', s.revision);
      assert.equal(readFileSync(join(staged, 'REVISION'), 'utf8').trim(), s.revision);
      assert.ok(existsSync(join(staged, 'site.yaml')));
      assert.ok(
        calls(dir)[0]!.includes(`--stage --commit ${s.revision}`),
        'apply stages the revision itself',
      );
    });
  });

  it('a verify failure on the first node (rolled back by its apply) stops the play; the second is untouched', async () => {
    await withTempDir(async (dir) => {
      const s = await setup(dir);
      writeFileSync(join(dir, 'fail-verify-lb1'), '');
      const r = await runRollout({
        model: s.model,
        siteDir: s.site,
        revision: s.revision,
        selected: NODES,
        serial: '1',
        verify: true,
        drain: false,
        inventories: [s.inv],
      });
      assert.notEqual(r.code, 0);
      assert.deepEqual(
        r.outcomes.map((n) => n.state),
        ['rolled_back', 'pending'],
      );
      assert.deepEqual(
        calls(dir).map((l) => l.split(' ').slice(0, 2).join(' ')),
        ['lb1 apply'],
        'no second rollback by the playbook: apply --verify rolled the node back',
      );
      assert.ok(!existsSync(join(dir, 'lb2')), 'lb2 was never touched');
    });
  });

  it('a failed apply is not rolled back again by the playbook; --nodes limits the play', async () => {
    await withTempDir(async (dir) => {
      const s = await setup(dir);
      writeFileSync(join(dir, 'fail-apply-lb2'), '');
      const r = await runRollout({
        model: s.model,
        siteDir: s.site,
        revision: s.revision,
        selected: ['lb2'],
        serial: '1',
        verify: false,
        drain: false,
        inventories: [s.inv],
      });
      assert.deepEqual(
        r.outcomes.map((n) => n.state),
        ['skipped', 'failed'],
      );
      assert.deepEqual(
        calls(dir).map((l) => l.split(' ').slice(0, 2).join(' ')),
        ['lb2 apply'],
      );
      assert.ok(
        calls(dir)[0]!.endsWith(' --allow-degraded'),
        'verify off: a degraded apply is not a failure',
      );
    });
  });
});

describe('rollout: intentlb stage on the node', () => {
  it('unpacks the archive whole, or leaves nothing', async () => {
    await withTempDir(async (dir) => {
      const site = join(dir, 'site');
      cpSync(CAMPUS, site, { recursive: true });
      const archive = writeArchive(site, 'rev1', dir);
      const b64 = readFileSync(archive).toString('base64');
      const dest = join(dir, 'node/sites/rev1');
      assert.equal(stageSite(dest, b64), 'staged');
      assert.equal(readFileSync(join(dest, 'REVISION'), 'utf8').trim(), 'rev1');
      assert.equal(
        readFileSync(join(dest, 'site.yaml'), 'utf8'),
        readFileSync(join(CAMPUS, 'site.yaml'), 'utf8'),
      );
      assert.equal(stageSite(dest, b64), 'present');
      const cut = join(dir, 'node/sites/cut');
      assert.throws(() => stageSite(cut, b64.slice(0, b64.length / 2)), StageError);
      assert.ok(!existsSync(cut));
      assert.deepEqual(
        readdirSync(join(dir, 'node/sites')).sort(),
        ['rev1'],
        'no temporary folder is left behind',
      );
    });
  });
});

describe('status --site: a row per node from the inspect events', () => {
  const plan = (files: number, actions: number): string =>
    JSON.stringify({
      files: Array.from({ length: files }, (_, i) => ({ path: `f${i}` })),
      actions: Array.from({ length: actions }, () => ({ kind: 'reload', instance: 'web', reason: 'x' })),
    });
  const status = (commit: string, running: boolean[]): string =>
    JSON.stringify({ applied: 4, commit, instances: running.map((r) => ({ running: r })) });
  const healthd = JSON.stringify({ draining: false, vips: [{ announced: true }, { announced: false }] });

  it('commit, drift, instances and healthd per node; an unreachable node says so', () => {
    const rows = foldInspect(
      ['lb1', 'lb2', 'lb3'],
      [
        ev('lb1', 'stage', 'ok'),
        ev('lb1', 'plan', 'ok', { stdout: plan(0, 0) }),
        ev('lb1', 'status', 'ok', { stdout: status('c1', [true, true]) }),
        ev('lb1', 'healthd', 'ok', { stdout: healthd }),
        ev('lb2', 'plan', 'ok', { stdout: plan(2, 1) }),
        ev('lb2', 'status', 'ok', { stdout: status('c0', [true, false]) }),
        ev('lb2', 'healthd', 'failed', { rc: 1 }),
        ev('lb3', 'stage', 'unreachable', { msg: 'no route' }),
      ],
    );
    assert.deepEqual(
      rows.map((r) => [r.name, r.reachable, r.commit, r.drift, r.instances, r.healthd?.announced ?? null]),
      [
        ['lb1', true, 'c1', { files: 0, actions: 0 }, { running: 2, total: 2 }, 1],
        ['lb2', true, 'c0', { files: 2, actions: 1 }, { running: 1, total: 2 }, null],
        ['lb3', false, null, null, null, null],
      ],
    );
    assert.equal(rowsHealthy(rows.slice(0, 1)), true);
    assert.equal(rowsHealthy(rows.slice(1, 2)), false);
    assert.equal(rowsHealthy(rows.slice(2)), false);
    const table = formatRows(rows).split('\n');
    assert.equal(table.length, 5);
    assert.ok(table[1]!.startsWith('lb1'));
  });
});
