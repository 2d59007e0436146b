import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Code } from '../../src/diagnostics/codes.ts';
import {
  diffVips,
  loadHealthdConfig,
  parseHealthdConfig,
  readControlPath,
} from '../../src/healthd/config.ts';
import { renderHealthd } from '../../src/render/healthd/config.ts';
import { campus, renderOne } from '../helpers/campus.ts';
import { yaml } from '../helpers/site.ts';
import { withTempDir } from '../helpers/tools.ts';

const FILE = '/etc/intentlb/healthd.yaml';

/** A small valid healthd.yaml; line numbers matter: the tables point into it. */
const BASE = yaml(
  'node: lb1', //                                   1
  'mode: anycast', //                               2
  'bird:', //                                       3
  '  socket: /run/intentlb/bird.ctl', //            4
  'control: /run/intentlb/healthd.sock', //         5
  'listen:', //                                     6
  '  address: "198.18.0.11"', //                    7
  '  port: 9300', //                                8
  'converge_ms: 750', //                            9
  'hooks:', //                                      10
  '  on_up: [/usr/local/bin/eip-move]', //          11
  '  on_down: [[/usr/sbin/pfctl, -t, vips]]', //    12
  '  timeout_ms: 2000', //                          13
  'vips:', //                                       14
  '  - name: web-www', //                           15
  '    prefixes: [198.18.100.10/32, "2001:db8:100::10/128"]', // 16
  '    protocols: [vip_web_www, vip6_web_www]', //  17
  '    check: { kind: http, address: "198.18.100.10", port: 8999, path: /_intentlb/health }', // 18
  '    interval_ms: 500', //                        19
  '    timeout_ms: 400', //                         20
  '    rise: 3', //                                 21
  '    fall: 2', //                                 22
  '    hold_down_ms: 5000', //                      23
  '    pidfile: /run/intentlb/haproxy/web-www.pid', // 24
  '  - name: db-pg', //                             25
  '    prefixes: [198.18.20.10/32]', //             26
  '    protocols: [vip_db_pg]', //                  27
  '    check: { kind: tcp, address: "198.18.20.10", port: 5432 }', // 28
  '    interval_ms: 1000', //                       29
  '    timeout_ms: 500', //                         30
  '    rise: 2', //                                 31
  '    fall: 3', //                                 32
  '    hold_down_ms: 0', //                         33
  '    hold_down_max_ms: 1000', //                  34
);

/** BASE with line `n` (1-based) replaced by `text` (or removed with null). */
function edit(n: number, text: string | null): string {
  const lines = BASE.split('\n');
  if (text === null) lines.splice(n - 1, 1);
  else lines[n - 1] = text;
  return lines.join('\n');
}

describe('healthd.yaml loader', () => {
  it('check.reuse_ms: 0 opens a new connection for every check', () => {
    const { config, diagnostics } = parseHealthdConfig(
      edit(
        18,
        '    check: { kind: http, address: "198.18.100.10", port: 8999, path: /_intentlb/health, reuse_ms: 0 }',
      ),
      FILE,
    );
    assert.deepEqual(diagnostics, []);
    assert.equal((config!.vips[0]!.check as { reuseMs?: number }).reuseMs, 0);
    const bad = parseHealthdConfig(
      edit(
        18,
        '    check: { kind: http, address: "198.18.100.10", port: 8999, path: /_intentlb/health, reuse_ms: -1 }',
      ),
      FILE,
    );
    assert.equal(bad.config, undefined);
    assert.ok(
      bad.diagnostics.some((d) => d.code === 'E_TYPE' && d.path === 'vips.0.check.reuse_ms' && d.line === 18),
      JSON.stringify(bad.diagnostics),
    );
  });

  it('maps every field onto the core configuration', () => {
    const { config, diagnostics } = parseHealthdConfig(BASE, FILE);
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.node, 'lb1');
    assert.equal(config.mode, 'anycast');
    assert.deepEqual(config.bird, { socket: '/run/intentlb/bird.ctl', pollMs: 1000, timeoutMs: 5000 });
    assert.equal(config.control, '/run/intentlb/healthd.sock');
    assert.deepEqual(config.listen, { address: '198.18.0.11', port: 9300 });
    assert.equal(config.convergeMs, 750);
    assert.deepEqual(config.hooks, {
      onUp: [['/usr/local/bin/eip-move']],
      onDown: [['/usr/sbin/pfctl', '-t', 'vips']],
      timeoutMs: 2000,
    });
    assert.deepEqual(config.vips[0], {
      name: 'web-www',
      prefixes: ['198.18.100.10/32', '2001:db8:100::10/128'],
      protocols: ['vip_web_www', 'vip6_web_www'],
      // One keep-alive connection per VIP, renewed every 30 s, unless `reuse_ms` says otherwise.
      check: {
        kind: 'http',
        address: '198.18.100.10',
        port: 8999,
        path: '/_intentlb/health',
        reuseMs: 30_000,
      },
      intervalMs: 500,
      timeoutMs: 400,
      rise: 3,
      fall: 2,
      holdDownMs: 5000,
      pidfile: '/run/intentlb/haproxy/web-www.pid',
    });
    assert.deepEqual(config.vips[1], {
      name: 'db-pg',
      prefixes: ['198.18.20.10/32'],
      protocols: ['vip_db_pg'],
      check: { kind: 'tcp', address: '198.18.20.10', port: 5432 },
      intervalMs: 1000,
      timeoutMs: 500,
      rise: 2,
      fall: 3,
      holdDownMs: 0,
      holdDownMaxMs: 1000,
    });
  });

  it('defaults: converge_ms 500, no hooks, BIRD poll and timeout; relative paths from the file', () => {
    const text = yaml(
      'node: lb1',
      'mode: anycast',
      'bird: { socket: run/bird.ctl }',
      'control: run/healthd.sock',
      'listen: { address: 127.0.0.1, port: 0 }',
      'vips:',
      '  - { name: a, prefixes: [], protocols: [vip_a], check: { kind: tcp, address: "::1", port: 1 },',
      '      interval_ms: 10, timeout_ms: 5, rise: 1, fall: 1, hold_down_ms: 0, pidfile: a.pid }',
    );
    const { config, diagnostics } = parseHealthdConfig(text, '/srv/lab/lb1/healthd.yaml');
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.convergeMs, 500);
    assert.deepEqual(config.hooks, { onUp: [], onDown: [], timeoutMs: 5000 });
    assert.deepEqual(config.bird, { socket: '/srv/lab/lb1/run/bird.ctl', pollMs: 1000, timeoutMs: 5000 });
    assert.equal(config.control, '/srv/lab/lb1/run/healthd.sock');
    assert.equal(config.vips[0]?.pidfile, '/srv/lab/lb1/a.pid');
  });

  it('reads what build renders (examples/campus), including control and converge_ms', async () => {
    const text = renderOne(renderHealthd, await campus(), 'healthd.yaml');
    const { config, diagnostics } = parseHealthdConfig(text, FILE);
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.control, '/run/intentlb/healthd.sock');
    assert.equal(config.convergeMs, 500);
    assert.ok(config.vips.length >= 10);
    for (const v of config.vips) {
      assert.ok(v.protocols.length > 0, `${v.name} has protocols`);
      assert.match(v.pidfile ?? '', /^\/run\/intentlb\/haproxy\/.+\.pid$/);
    }
  });

  // Each case: the edited document and the diagnostics expected (code, path and position, not
  // wording): the compiler's conventions, an unknown key at the key, a bad value at the value.
  const invalid: {
    name: string;
    text: string;
    diagnostics: { code: Code; path?: string; line: number; column: number }[];
  }[] = [
    {
      name: 'YAML syntax',
      text: edit(8, '  port: [9300'),
      diagnostics: [{ code: 'E_YAML_SYNTAX', line: 9, column: 1 }],
    },
    {
      name: 'unknown key, where it is written',
      text: edit(9, 'convergence_ms: 750'),
      diagnostics: [{ code: 'E_UNKNOWN_KEY', path: 'convergence_ms', line: 9, column: 1 }],
    },
    {
      name: 'wrong type',
      text: edit(21, '    rise: three'),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.0.rise', line: 21, column: 11 }],
    },
    {
      name: 'below the minimum',
      text: edit(22, '    fall: 0'),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.0.fall', line: 22, column: 11 }],
    },
    {
      name: 'missing field, at its parent',
      text: edit(5, null),
      diagnostics: [{ code: 'E_TYPE', path: 'control', line: 1, column: 1 }],
    },
    {
      name: 'unknown check kind',
      text: edit(18, '    check: { kind: icmp, address: "198.18.100.10" }'),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.0.check.kind', line: 18, column: 20 }],
    },
    {
      name: 'not an address',
      text: edit(28, '    check: { kind: tcp, address: db.example, port: 5432 }'),
      diagnostics: [{ code: 'E_ADDRESS', path: 'vips.1.check.address', line: 28, column: 34 }],
    },
    {
      name: 'not a prefix',
      text: edit(26, '    prefixes: [198.18.20.10]'),
      diagnostics: [{ code: 'E_ADDRESS', path: 'vips.1.prefixes.0', line: 26, column: 16 }],
    },
    {
      name: 'not a BIRD symbol',
      text: edit(27, '    protocols: ["vip db"]'),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.1.protocols.0', line: 27, column: 17 }],
    },
    {
      name: 'same VIP twice',
      text: edit(25, '  - name: web-www'),
      diagnostics: [{ code: 'E_NAME_CONFLICT', path: 'vips.1.name', line: 25, column: 11 }],
    },
    {
      name: 'a protocol carried by two VIPs',
      text: edit(27, '    protocols: [vip_web_www]'),
      diagnostics: [{ code: 'E_NAME_CONFLICT', path: 'vips.1.protocols.0', line: 27, column: 17 }],
    },
    {
      name: 'an anycast VIP without protocols',
      text: edit(27, '    protocols: []'),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.1.protocols', line: 27, column: 16 }],
    },
    {
      name: 'hold_down_max_ms below hold_down_ms',
      text: edit(33, '    hold_down_ms: 5000'),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.1.hold_down_max_ms', line: 34, column: 23 }],
    },
    {
      name: 'empty hook command',
      text: edit(12, '  on_down: [[]]'),
      diagnostics: [{ code: 'E_TYPE', path: 'hooks.on_down.0', line: 12, column: 13 }],
    },
    {
      name: 'with bird.vip_state, a protocol that has no state constant (vip_<x>, vip6_<x> only)',
      text: edit(4, '  socket: /run/intentlb/bird.ctl\n  vip_state: bird/vip-state.conf').replace(
        'protocols: [vip_db_pg]',
        'protocols: [bgp_db_pg]',
      ),
      diagnostics: [{ code: 'E_TYPE', path: 'vips.1.protocols.0', line: 28, column: 17 }],
    },
    {
      name: 'several problems, all reported in file order',
      text: edit(21, '    rise: -1').replace('  port: 9300', '  port: 70000'),
      diagnostics: [
        { code: 'E_TYPE', path: 'listen.port', line: 8, column: 9 },
        { code: 'E_TYPE', path: 'vips.0.rise', line: 21, column: 11 },
      ],
    },
  ];
  for (const c of invalid) {
    it(`refuses: ${c.name}`, () => {
      const { config, diagnostics, sources } = parseHealthdConfig(c.text, FILE);
      assert.equal(config, undefined);
      assert.deepEqual(
        diagnostics.map((d) => ({
          code: d.code,
          ...(d.path === undefined ? {} : { path: d.path }),
          line: d.line,
          column: d.column,
        })),
        c.diagnostics,
        JSON.stringify(diagnostics, null, 1),
      );
      for (const d of diagnostics) {
        assert.equal(d.file, FILE);
        assert.equal(d.severity, 'error');
        assert.ok(d.message.length > 0);
      }
      assert.equal(sources.get(FILE), c.text, 'the text for code frames');
    });
  }

  it('bird.vip_state is read relative to the file; without it no state file is written', () => {
    const text = edit(4, '  socket: /run/intentlb/bird.ctl\n  vip_state: bird/vip-state.conf');
    assert.equal(parseHealthdConfig(text, FILE).config?.bird.vipState, '/etc/intentlb/bird/vip-state.conf');
    assert.equal(parseHealthdConfig(BASE, FILE).config?.bird.vipState, undefined);
    // Without it, a protocol need not be one the state file could name.
    assert.ok(parseHealthdConfig(BASE.replace('[vip_db_pg]', '[bgp_db_pg]'), FILE).config);
  });

  it('diffVips names what a reload adds, removes and changes', () => {
    const { config } = parseHealthdConfig(BASE, FILE);
    assert.ok(config);
    const [www, pg] = config.vips as [(typeof config.vips)[0], (typeof config.vips)[0]];
    assert.deepEqual(
      diffVips(
        [www, pg],
        [
          { ...www, rise: 5 },
          { ...pg, name: 'db-pg2' },
        ],
      ),
      {
        added: ['db-pg2'],
        removed: ['db-pg'],
        changed: ['web-www'],
      },
    );
    assert.deepEqual(diffVips([www, pg], [pg, www]), { added: [], removed: [], changed: [] });
  });

  it('files: a missing file is a problem, not a throw; the control path is read on its own', async () => {
    await withTempDir(async (dir) => {
      const missing = await loadHealthdConfig(join(dir, 'nope.yaml'));
      assert.equal(missing.config, undefined);
      assert.deepEqual(
        missing.diagnostics.map((d) => [d.code, d.file, d.line, d.column]),
        [['E_MISSING_FILE', join(dir, 'nope.yaml'), 1, 1]],
      );
      // A folder where the file should be: there, but unreadable as a file.
      const folder = await loadHealthdConfig(dir);
      assert.deepEqual(
        folder.diagnostics.map((d) => d.code),
        ['E_FILE'],
      );

      const file = join(dir, 'healthd.yaml');
      // A file broken elsewhere still names its control socket: clients can reach the daemon.
      writeFileSync(
        file,
        BASE.replace('rise: 3', 'rise: three').replace('/run/intentlb/healthd.sock', 'h.sock'),
      );
      assert.equal((await loadHealthdConfig(file)).config, undefined);
      const found = await readControlPath(file);
      assert.equal(found.path, join(dir, 'h.sock'));
      assert.deepEqual(found.diagnostics, []);
      writeFileSync(file, edit(5, null));
      const none = await readControlPath(file);
      assert.equal(none.path, undefined);
      assert.deepEqual(
        none.diagnostics.map((d) => [d.code, d.path, d.line, d.column]),
        [['E_TYPE', 'control', 1, 1]],
      );
      assert.equal(none.sources.get(file), edit(5, null));
      assert.deepEqual(
        (await readControlPath(join(dir, 'nope.yaml'))).diagnostics.map((d) => d.code),
        ['E_MISSING_FILE'],
      );
    });
  });
});
