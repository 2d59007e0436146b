import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runTool } from '../../src/build/run-tool.ts';
import { SystemdControl } from '../../src/deploy/control.ts';
import { HEALTHD_ENV, HEALTHD_NODE_OPTIONS } from '../../src/deploy/services/index.ts';
import { rootLayout } from '../../src/deploy/store.ts';
import {
  execWord,
  installSystemdUnits,
  systemdUnitFile,
  systemdUnitName,
  unitNameOf,
} from '../../src/deploy/systemd-units.ts';
import { unitSpec } from '../../src/deploy/units.ts';
import { DEFAULT_LAYOUT } from '../../src/render/types.ts';
import { BIN, REPO as ROOT } from '../../src/runtime/paths.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

describe('systemd units of a node', () => {
  it('names: HAProxy instances by the template, the rest as intentlb-<name>, and back', () => {
    assert.equal(systemdUnitName('haproxy@web-wiki'), 'haproxy@web-wiki.service');
    assert.equal(systemdUnitName('bird'), 'intentlb-bird.service');
    assert.equal(systemdUnitName('healthd'), 'intentlb-healthd.service');
    assert.equal(systemdUnitName('keepalived'), 'intentlb-keepalived.service');
    assert.throws(() => systemdUnitName('nginx'), /unknown unit nginx/);
    for (const n of ['haproxy@web-wiki', 'bird', 'healthd', 'keepalived']) {
      assert.equal(unitNameOf(systemdUnitName(n)), n);
    }
    assert.equal(unitNameOf('bird.service'), undefined, "the distribution's own BIRD is not ours");
    assert.equal(unitNameOf('haproxy.service'), undefined);
  });

  it('quotes what systemd would split or expand', () => {
    assert.equal(execWord('/usr/sbin/bird'), '/usr/sbin/bird');
    assert.equal(execWord('/opt/intent lb/bin'), '"/opt/intent lb/bin"');
    assert.equal(execWord('100%'), '100%%');
    assert.equal(execWord('$HOME'), '$$HOME');
    assert.equal(execWord('a"b'), '"a\\"b"');
    assert.equal(execWord(''), '""');
  });

  it("healthd runs with the supervisor's node options and environment, after BIRD", () => {
    const unit = systemdUnitFile(DEFAULT_LAYOUT, 'healthd');
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
    assert.equal(
      exec,
      `ExecStart=${[process.execPath, ...HEALTHD_NODE_OPTIONS, BIN, 'healthd', '--config', '/etc/intentlb/healthd.yaml'].map(execWord).join(' ')}`,
    );
    for (const [k, v] of Object.entries(HEALTHD_ENV))
      assert.ok(unit.includes(`\nEnvironment=${k}=${v}\n`), unit);
    assert.match(unit, /\nAfter=network-online\.target intentlb-boot\.service intentlb-bird\.service\n/);
    assert.match(unit, /\nKillSignal=SIGTERM\nTimeoutStopSec=10s\nRestart=always\n/);
    assert.match(unit, /\nWantedBy=multi-user\.target\n/);
  });

  it("BIRD runs intentlb's configuration on intentlb's socket and conflicts with the distribution's", () => {
    const unit = systemdUnitFile(DEFAULT_LAYOUT, 'bird');
    assert.match(unit, /\nConflicts=bird\.service\n/);
    assert.match(unit, /\nNice=-10\n/, 'BFD at 50 ms × 3 needs BIRD to run ahead of ordinary work');
    assert.match(
      unit,
      /\nExecStart=\S*bird -f -c \/run\/intentlb\/bird\/intentlb\.conf -s \/run\/intentlb\/bird\.ctl -P \/run\/intentlb\/bird\.pid\n/,
    );
    // Before every start: the link to the installed configuration and the all-disabled state
    // (ADR 0026), in this order, after the run directory.
    assert.match(
      unit,
      new RegExp(
        [
          'ExecStartPre=/bin/mkdir -p /run/intentlb',
          'ExecStartPre=/bin/mkdir -p /run/intentlb/bird',
          'ExecStartPre=/bin/ln -sfn /etc/intentlb/bird/intentlb.conf /run/intentlb/bird/intentlb.conf',
          'ExecStartPre=/bin/cp /etc/intentlb/bird/vip-state.conf /run/intentlb/bird/vip-state.conf',
          'ExecStart=',
        ]
          .map((l) => l.replaceAll('.', '\\.'))
          .join('\n'),
      ),
    );
    assert.match(systemdUnitFile(DEFAULT_LAYOUT, 'keepalived'), /\nConflicts=keepalived\.service\n/);
  });

  it('keepalived reloads with `systemctl reload` (SIGHUP, as apply does); BIRD and healthd have no reload', () => {
    // Found booting a VRRP node (test/interop/systemd-vrrp.test.ts): `systemctl reload
    // intentlb-keepalived` failed with "Job type reload is not applicable".
    assert.match(systemdUnitFile(DEFAULT_LAYOUT, 'keepalived'), /\nExecReload=\/bin\/kill -HUP \$MAINPID\n/);
    for (const name of ['bird', 'healthd'])
      assert.doesNotMatch(systemdUnitFile(DEFAULT_LAYOUT, name), /ExecReload/);
  });

  it('install: the template linked, the units written once, rewritten when they change', async () => {
    await withTempDir((dir) => {
      const layout = rootLayout(join(dir, 'root'));
      const units = join(dir, 'system');
      const first = installSystemdUnits(layout, units).map((p) => p.slice(units.length + 1));
      assert.deepEqual(first.sort(), [
        'intentlb-bird.service',
        'intentlb-boot.service',
        'intentlb-healthd.service',
        'intentlb-keepalived.service',
        'intentlb.target',
        'multi-user.target.wants/intentlb-boot.service',
      ]);
      // Enabled as `systemctl enable` would; the instances are ordered after it.
      assert.equal(
        readlinkSync(join(units, 'multi-user.target.wants/intentlb-boot.service')),
        join(units, 'intentlb-boot.service'),
      );
      assert.match(
        readFileSync(join(units, 'intentlb-boot.service'), 'utf8'),
        /\nExecStart=\S+ \S+bin\/intentlb\.mjs boot\n/,
      );
      assert.ok(lstatSync(join(units, 'haproxy@.service')).isSymbolicLink());
      assert.equal(readlinkSync(join(units, 'haproxy@.service')), `${layout.etc}/systemd/haproxy@.service`);
      assert.deepEqual(installSystemdUnits(layout, units), [], 'nothing changed, nothing written');
      writeFileSync(join(units, 'intentlb-healthd.service'), 'edited by hand\n');
      assert.deepEqual(installSystemdUnits(layout, units), [join(units, 'intentlb-healthd.service')]);
      assert.equal(
        readFileSync(join(units, 'intentlb-healthd.service'), 'utf8'),
        systemdUnitFile(layout, 'healthd'),
      );
    });
  });

  it('systemd-analyze verify accepts every unit', async () => {
    const analyze = requireTool('systemd-analyze');
    await withTempDir(async (dir) => {
      installSystemdUnits(DEFAULT_LAYOUT, dir);
      const files = [
        'intentlb-bird.service',
        'intentlb-boot.service',
        'intentlb-healthd.service',
        'intentlb-keepalived.service',
        'intentlb.target',
      ];
      const r = await runTool(analyze, ['verify', ...files.map((f) => join(dir, f))], { timeoutMs: 60_000 });
      assert.ok(r.ok, r.output);
      assert.equal(r.output.trim(), '', r.output);
    });
  });

  it('an HAProxy instance is stopped softly and killed at the same timeout under both', () => {
    const template = readFileSync(
      join(ROOT, 'fixtures/http-basic/expected/lb1/systemd/haproxy@.service'),
      'utf8',
    );
    const spec = unitSpec(DEFAULT_LAYOUT, 'haproxy@web');
    assert.match(template, new RegExp(`\\nKillSignal=${spec.stopSignal}\\n`));
    const minutes = /\nTimeoutStopSec=(\d+)min\n/.exec(template)?.[1];
    assert.equal(Number(minutes) * 60_000, spec.stopTimeoutMs);
    // Longer than the longest hard-stop-after (10m, TCP instances): connections end by themselves.
    assert.ok(spec.stopTimeoutMs > 10 * 60_000);
  });

  it('the HAProxy template runs the haproxy systemd finds, as the supervisor finds it by name', async () => {
    const analyze = requireTool('systemd-analyze');
    requireTool('haproxy');
    await withTempDir(async (dir) => {
      // A golden file: the template as rendered (test/render pins it to the renderer's output).
      const template = readFileSync(
        join(ROOT, 'fixtures/http-basic/expected/lb1/systemd/haproxy@.service'),
        'utf8',
      );
      const commands = template
        .split('\n')
        .filter((l) => /^Exec(StartPre|Start|Reload)=\S*haproxy /.test(l))
        .map((l) => l.slice(l.indexOf('=') + 1).split(' ')[0]);
      assert.deepEqual(commands, ['haproxy', 'haproxy', 'haproxy']);
      assert.match(unitSpec(DEFAULT_LAYOUT, 'haproxy@web').command, /(^|\/)haproxy$/);
      writeFileSync(join(dir, 'haproxy@.service'), template);
      // verify resolves a bare command in systemd's search path and fails when it finds none.
      const r = await runTool(analyze, ['verify', join(dir, 'haproxy@web.service')], { timeoutMs: 60_000 });
      assert.ok(r.ok, r.output);
    });
  });

  it('SystemdControl starts and enables, stops (without waiting for the soft stop) and disables, and lists by unit name', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'calls');
      const fake = join(dir, 'systemctl');
      writeFileSync(
        fake,
        [
          '#!/bin/sh',
          `echo "$*" >> ${log}`,
          'case "$1" in',
          '  is-active) [ "$3" = intentlb-bird.service ] && exit 0; exit 3 ;;',
          // A stop with --no-block: the unit is deactivating (the soft stop runs on).
          '  show) echo deactivating ;;',
          '  list-units)',
          '    echo "haproxy@web-wiki.service loaded active running HAProxy instance web-wiki (intentlb)"',
          '    echo "intentlb-healthd.service loaded activating auto-restart intentlb healthd"',
          '    echo "intentlb-bird.service loaded active running BIRD for intentlb"',
          '    echo "bird.service loaded inactive dead BIRD" ;;',
          'esac',
          'exit 0',
          '',
        ].join('\n'),
      );
      chmodSync(fake, 0o755);
      const path = process.env.PATH;
      process.env.PATH = `${dir}:${path}`;
      try {
        const c = new SystemdControl();
        assert.deepEqual(await c.start('healthd'), { already: false });
        assert.deepEqual(await c.start('bird'), { already: true });
        await c.stop('haproxy@web-wiki');
        const units = await c.units();
        assert.deepEqual(
          units.map((u) => [u.name, u.state]),
          [
            ['haproxy@web-wiki', 'running'],
            ['healthd', 'backoff'],
            ['bird', 'running'],
          ],
        );
        assert.deepEqual([...(await c.running())].sort(), ['bird', 'haproxy@web-wiki']);
      } finally {
        process.env.PATH = path;
      }
      const calls = readFileSync(log, 'utf8').trim().split('\n');
      assert.deepEqual(calls.slice(0, 6), [
        'is-active --quiet intentlb-healthd.service',
        'daemon-reload',
        'enable --now intentlb-healthd.service',
        'is-active --quiet intentlb-bird.service',
        'disable --now --no-block haproxy@web-wiki.service',
        'show -p ActiveState --value haproxy@web-wiki.service',
      ]);
      assert.equal(
        calls[6],
        'list-units --plain --no-legend --all haproxy@*.service intentlb-bird.service intentlb-healthd.service intentlb-keepalived.service',
      );
    });
  });
});
