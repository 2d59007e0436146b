import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import {
  BirdClient,
  BirdCode,
  BirdConnectionError,
  BirdProtocolError,
  BirdReplyError,
  BirdReplyReader,
  birdCodeClass,
  PIPELINE_CHUNK_BYTES,
  parseBirdTranscript,
  parseProtocols,
  parseRoutes,
  pipelineChunks,
  replyMessage,
} from '../../src/runtime/bird-client.ts';
import { pidAlive } from '../../src/runtime/pid.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/bird-${name}.txt`, import.meta.url), 'utf8');

describe('BIRD replies recorded from bird 2.0.12', () => {
  // fixture → final code of each reply in it
  const table: [string, number[]][] = [
    ['hello', [BirdCode.WELCOME]],
    ['show-protocols', [BirdCode.OK]],
    ['show-protocols-all', [BirdCode.OK]],
    ['disable', [BirdCode.OK]],
    ['disable-already', [BirdCode.OK]],
    ['enable', [BirdCode.OK]],
    ['enable-already', [BirdCode.OK]],
    ['enable-no-match', [BirdCode.NO_PROTOCOLS_MATCH]],
    ['enable-unknown-symbol', [BirdCode.PARSE_ERROR]],
    ['configure', [BirdCode.RECONFIGURED]],
    ['configure-soft', [BirdCode.RECONFIGURED]],
    ['configure-check', [BirdCode.CONFIGURATION_OK]],
    ['configure-in-progress', [BirdCode.RECONFIGURATION_IN_PROGRESS]],
    [
      'configure-queued',
      [
        BirdCode.RECONFIGURATION_IN_PROGRESS,
        BirdCode.RECONFIGURATION_QUEUED,
        BirdCode.RECONFIGURATION_QUEUED,
      ],
    ],
    ['configure-error', [BirdCode.CONFIGURATION_FILE_ERROR]],
    ['show-route', [BirdCode.OK]],
    ['show-route-prefix', [BirdCode.OK]],
    ['show-route-all', [BirdCode.OK]],
    ['show-route-not-found', [BirdCode.ROUTE_NOT_FOUND]],
    ['show-status', [BirdCode.STATUS_REPORT]],
    ['pipelined', [BirdCode.OK, BirdCode.OK, BirdCode.NO_PROTOCOLS_MATCH, BirdCode.OK]],
  ];
  for (const [name, codes] of table) {
    test(`${name}: final codes ${codes.join(', ')}`, () => {
      const replies = parseBirdTranscript(fixture(name));
      assert.deepEqual(
        replies.map((r) => r.code),
        codes,
      );
      for (const r of replies) assert.equal(r.ok, r.code < 1000, `ok follows the code class of ${r.code}`);
    });
  }

  test('code classes', () => {
    assert.equal(birdCodeClass(3), 'success');
    assert.equal(birdCodeClass(1002), 'table-entry');
    assert.equal(birdCodeClass(2002), 'table-heading');
    assert.equal(birdCodeClass(8003), 'runtime-error');
    assert.equal(birdCodeClass(9001), 'parse-error');
    assert.equal(birdCodeClass(5000), 'unknown');
  });

  test('lines keep their code; continuations take the code they continue', () => {
    const [reply] = parseBirdTranscript(fixture('show-protocols'));
    assert.deepEqual(
      reply!.lines.map((l) => l.code),
      [2002, 1002, 1002, 1002, 0],
    );
    assert.equal(reply!.lines[2]!.text.split(/\s+/)[0], 'vip_a');
    const [disable] = parseBirdTranscript(fixture('disable'));
    assert.deepEqual(disable!.lines, [
      { code: BirdCode.DISABLED, text: 'vip_a: disabled' },
      { code: BirdCode.OK, text: '' },
    ]);
    const [err] = parseBirdTranscript(fixture('configure-error'));
    assert.equal(err!.ok, false);
    assert.match(replyMessage(err!), /bad\.conf:1:0 syntax error/);
  });

  test('show protocols', () => {
    const protocols = parseProtocols(parseBirdTranscript(fixture('show-protocols'))[0]!);
    assert.deepEqual(
      protocols.map((p) => [p.name, p.proto, p.table, p.state, p.info]),
      [
        ['device1', 'Device', '---', 'up', ''],
        ['vip_a', 'Static', 'master4', 'up', ''],
        ['vip_b', 'Static', 'master4', 'down', ''],
      ],
    );
    assert.match(protocols[0]!.since, /^\d{2}:\d{2}:\d{2}\.\d{3}$/);
    const all = parseProtocols(parseBirdTranscript(fixture('show-protocols-all'))[0]!);
    assert.equal(all.length, 1);
    assert.equal(all[0]!.details[0]?.trim(), 'Channel ipv4');
    assert.ok(all[0]!.details.some((d) => /Routes:\s+1 imported/.test(d)));
  });

  test('show protocols: info with spaces, iso long time format', () => {
    const reply = parseBirdTranscript(
      '2002-Name       Proto      Table      State  Since         Info\n' +
        '1002-bgp1       BGP        ---        start  2026-11-22 01:57:13  Active        Socket: Connection refused\n' +
        ' bgp2       BGP        ---        up     12:00:01.000  Established   \n' +
        '0000 \n',
    )[0]!;
    assert.deepEqual(
      parseProtocols(reply).map((p) => [p.name, p.state, p.since, p.info]),
      [
        ['bgp1', 'start', '2026-11-22 01:57:13', 'Active        Socket: Connection refused'],
        ['bgp2', 'up', '12:00:01.000', 'Established'],
      ],
    );
  });

  test('show route', () => {
    const routes = parseRoutes(parseBirdTranscript(fixture('show-route'))[0]!);
    assert.deepEqual(
      routes.map((r) => [r.table, r.prefix, r.type, r.protocol, r.primary, r.preference]),
      [
        ['master4', '198.18.100.11/32', 'blackhole', 'vip_b', true, 200],
        ['master4', '198.18.100.10/32', 'blackhole', 'vip_a', true, 200],
      ],
    );
    const all = parseRoutes(parseBirdTranscript(fixture('show-route-all'))[0]!);
    assert.deepEqual(all[0]!.details, ['Type: static univ']);
    // BGP-style: a second route for the same network, a next hop, another table.
    const bgp = parseRoutes(
      parseBirdTranscript(
        '1007-Table master4:\n' +
          ' 198.51.100.0/24      unicast [bgp1 12:00:00.000 from 192.0.2.1] * (100) [AS65001i]\n' +
          ' \tvia 192.0.2.1 on eth0\n' +
          '                      unicast [bgp2 12:00:01.000 from 192.0.2.2] (100) [AS65002i]\n' +
          ' \tvia 192.0.2.2 on eth0\n' +
          ' \n' +
          ' Table master6:\n' +
          ' 2001:db8::/32        unreachable [static6 12:00:00.000] * (200)\n' +
          '0000 \n',
      )[0]!,
    );
    assert.deepEqual(
      bgp.map((r) => [r.table, r.prefix, r.protocol, r.source, r.primary, r.details]),
      [
        [
          'master4',
          '198.51.100.0/24',
          'bgp1',
          '12:00:00.000 from 192.0.2.1',
          true,
          ['via 192.0.2.1 on eth0'],
        ],
        [
          'master4',
          '198.51.100.0/24',
          'bgp2',
          '12:00:01.000 from 192.0.2.2',
          false,
          ['via 192.0.2.2 on eth0'],
        ],
        ['master6', '2001:db8::/32', 'static6', '12:00:00.000', true, []],
      ],
    );
  });

  test('framing: any chunking gives the same replies', () => {
    const text = fixture('pipelined') + fixture('show-protocols-all') + fixture('configure-error');
    const whole = parseBirdTranscript(text);
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, 64]) {
      const reader = new BirdReplyReader();
      const got = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...reader.push(bytes.subarray(i, i + size)));
      assert.deepEqual(got, whole, `chunks of ${size} bytes`);
      assert.equal(reader.midReply, false);
    }
  });

  test('framing: a multi-byte character split across chunks, CRLF, spontaneous lines', () => {
    const spontaneous: string[] = [];
    const reader = new BirdReplyReader((t) => spontaneous.push(t));
    const bytes = Buffer.from('1002-prötö\r\n+log line\n 2nd\n0000 \n');
    const cut = bytes.indexOf(0xc3) + 1;
    assert.deepEqual(reader.push(bytes.subarray(0, cut)), []);
    assert.equal(reader.midReply, true);
    const [reply] = reader.push(bytes.subarray(cut));
    assert.deepEqual(reply!.lines, [
      { code: 1002, text: 'prötö' },
      { code: 1002, text: '2nd' },
      { code: 0, text: '' },
    ]);
    assert.deepEqual(spontaneous, ['log line']);
  });

  test('framing errors', () => {
    assert.throws(() => parseBirdTranscript(' orphan continuation\n'), BirdProtocolError);
    assert.throws(() => parseBirdTranscript('12 short code\n'), BirdProtocolError);
    assert.throws(() => parseBirdTranscript('0000-unfinished\n'), /middle of a reply/);
  });
});

type Responder = (cmd: string, conn: Socket) => void;

/** A fake BIRD on a unix socket: greets, then calls `respond` for each command line. */
async function withFakeBird(
  respond: Responder,
  fn: (path: string, received: string[]) => Promise<void>,
  greeting: string[] = ['00', '01 BIRD 2.0.12 ', 'ready.\n'],
): Promise<void> {
  await withTempDir(async (dir) => {
    const path = join(dir, 'bird.ctl');
    const received: string[] = [];
    const conns = new Set<Socket>();
    const server = createServer((conn) => {
      conns.add(conn);
      conn.on('error', () => {});
      conn.on('close', () => conns.delete(conn));
      greeting.forEach((g, i) => {
        setTimeout(() => conn.write(g), i * 5);
      });
      let buf = '';
      conn.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const cmd = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          received.push(cmd);
          respond(cmd, conn);
        }
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      await fn(path, received);
    } finally {
      for (const c of conns) c.destroy();
      server.close();
    }
  });
}

/** Writes `parts` with a pause between them, as separate TCP chunks. */
function dribble(conn: Socket, parts: string[], gapMs = 5): void {
  parts.forEach((p, i) => {
    setTimeout(() => conn.write(p), i * gapMs);
  });
}

describe('pipelineChunks', () => {
  it('keeps commands whole and in order, each chunk within the byte limit', () => {
    const cmds = Array.from({ length: 200 }, (_, i) => `enable "vip_${i}"`);
    const chunks = pipelineChunks(cmds);
    assert.deepEqual(chunks.flat(), cmds);
    assert.ok(chunks.length > 1);
    for (const c of chunks) assert.ok(c.reduce((a, x) => a + x.length + 1, 0) <= PIPELINE_CHUNK_BYTES);
    assert.deepEqual(pipelineChunks(['x'.repeat(2000)]), [['x'.repeat(2000)]]);
  });
});

describe('BIRD client against a fake BIRD', () => {
  test('replies split across chunks, continuation lines, error codes', async () => {
    await withFakeBird(
      (cmd, conn) => {
        if (cmd === 'show protocols') {
          dribble(conn, [
            '2002-Name  Proto  Table  State  Since  Info\n100',
            '2-vip_a  Static  master4  up  ',
            '12:00:00.000  \n vip',
            '_b  Static  master4  down  12:00:00.000  \n00',
            '00 \n',
          ]);
        } else if (cmd === 'disable "vip_a"') {
          dribble(conn, ['0009-vip_a: disabled\n', '0000 \n']);
        } else if (cmd === 'enable "nope"') {
          conn.write('8003 No protocols match\n');
        } else {
          conn.write('9001 syntax error\n');
        }
      },
      async (path) => {
        const bird = await BirdClient.connect(path);
        assert.equal(bird.greeting, 'BIRD 2.0.12 ready.');
        const protocols = await bird.showProtocols();
        assert.deepEqual(
          protocols.map((p) => [p.name, p.state]),
          [
            ['vip_a', 'up'],
            ['vip_b', 'down'],
          ],
        );
        assert.deepEqual(await bird.disableProtocol('vip_a').then((r) => [r.ok, r.changed, r.code]), [
          true,
          true,
          9,
        ]);
        const nope = await bird.enableProtocol('nope');
        assert.deepEqual([nope.ok, nope.code, nope.error], [false, 8003, 'No protocols match']);
        const raw = await bird.command('bogus');
        assert.deepEqual([raw.ok, raw.code], [false, 9001]);
        await assert.rejects(bird.showRoute(), BirdReplyError);
        assert.equal(bird.connected, true);
        bird.close();
        await bird.closed;
        await assert.rejects(bird.command('show status'), BirdConnectionError);
      },
    );
  });

  test('commands are serialized: one on the wire at a time; a batch is pipelined', async () => {
    let outstanding = 0;
    let maxOutstanding = 0;
    await withFakeBird(
      (cmd, conn) => {
        outstanding++;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        setTimeout(() => {
          outstanding--;
          conn.write(`0023 ${cmd}\n`);
        }, 20);
      },
      async (path, received) => {
        const bird = await BirdClient.connect(path);
        const replies = await Promise.all(['eval 1', 'eval 2', 'eval 3'].map((c) => bird.command(c)));
        assert.deepEqual(
          replies.map((r) => replyMessage(r)),
          ['eval 1', 'eval 2', 'eval 3'],
        );
        assert.equal(maxOutstanding, 1);
        const batch = await bird.commands(['eval 4', 'eval 5', 'eval 6']);
        assert.deepEqual(
          batch.map((r) => replyMessage(r)),
          ['eval 4', 'eval 5', 'eval 6'],
        );
        assert.equal(maxOutstanding, 3, 'the batch was written back to back');
        assert.deepEqual(received, ['eval 1', 'eval 2', 'eval 3', 'eval 4', 'eval 5', 'eval 6']);
        bird.close();
      },
    );
  });

  test('setProtocols: per-protocol results and read-back in one batch', async () => {
    await withFakeBird(
      (cmd, conn) => {
        const reply: Record<string, string> = {
          'enable "vip_a"': '0011-vip_a: enabled\n0000 \n',
          'disable "vip_b"': '0008-vip_b: already disabled\n0000 \n',
          'enable "vip_c"': '0011-vip_c: enabled\n0000 \n',
          'enable "gone"': '8003 No protocols match\n',
          'show protocols':
            '2002-Name       Proto      Table      State  Since         Info\n' +
            '1002-vip_a      Static     master4    up     12:00:00.000  \n' +
            ' vip_b      Static     master4    flush  12:00:00.000  \n' +
            ' vip_c      Static     master4    down   12:00:00.000  \n' +
            '0000 \n',
        };
        conn.write(reply[cmd] ?? '9001 syntax error\n');
      },
      async (path, received) => {
        const bird = await BirdClient.connect(path);
        const res = await bird.setProtocols([
          { name: 'vip_a', enabled: true },
          { name: 'vip_b', enabled: false },
          { name: 'vip_c', enabled: true },
          { name: 'gone', enabled: true },
          { name: 'vip_a', enabled: true },
        ]);
        assert.deepEqual(received, [
          'enable "vip_a"',
          'disable "vip_b"',
          'enable "vip_c"',
          'enable "gone"',
          'show protocols',
        ]);
        assert.equal(res.ok, false);
        assert.deepEqual(
          res.results.map((r) => [r.name, r.ok, r.changed, r.code, r.state, r.confirmed]),
          [
            ['vip_a', true, true, 11, 'up', true],
            ['vip_b', true, false, 8, 'flush', true],
            ['vip_c', true, true, 11, 'down', false],
            ['gone', false, false, 8003, undefined, false],
          ],
        );
        await assert.rejects(
          bird.setProtocols([
            { name: 'x', enabled: true },
            { name: 'x', enabled: false },
          ]),
          /both enabled and disabled/,
        );
        await assert.rejects(bird.setProtocols([{ name: 'vip_*', enabled: true }]), /invalid protocol name/);
        bird.close();
      },
    );
  });

  test('timeout closes the connection and rejects what was queued', async () => {
    await withFakeBird(
      (cmd, conn) => {
        if (cmd !== 'hang') conn.write('0000 \n');
      },
      async (path) => {
        const bird = await BirdClient.connect(path, { timeoutMs: 200 });
        const hang = bird.command('hang');
        const next = bird.command('show status');
        await assert.rejects(hang, /no reply in 200 ms/);
        await assert.rejects(next, BirdConnectionError);
        assert.equal(bird.connected, false);
        await bird.closed;
      },
    );
  });

  test('a malformed reply or the server closing mid-reply fails the pending command', async () => {
    await withFakeBird(
      (cmd, conn) => {
        if (cmd === 'garbage') conn.write('hello there\n');
        else {
          conn.write('1002-partial\n');
          setTimeout(() => conn.destroy(), 10);
        }
      },
      async (path) => {
        const a = await BirdClient.connect(path);
        await assert.rejects(a.command('garbage'), BirdProtocolError);
        assert.equal(a.connected, false);
        const b = await BirdClient.connect(path);
        await assert.rejects(b.command('show protocols'), /connection closed/);
      },
    );
  });

  test('refused greeting, nothing listening, unsafe commands', async () => {
    await withFakeBird(
      () => {},
      async (path) => {
        await assert.rejects(BirdClient.connect(path), /unexpected greeting 8007 Access denied/);
      },
      ['8007 Access denied\n'],
    );
    await withTempDir(async (dir) => {
      await assert.rejects(BirdClient.connect(join(dir, 'none.ctl')), BirdConnectionError);
    });
    await withFakeBird(
      () => {},
      async (path, received) => {
        const bird = await BirdClient.connect(path);
        await assert.rejects(bird.command('show status\ndown'), /newline/);
        await assert.rejects(bird.enableProtocol('vip_a"; down'), /invalid protocol name/);
        await assert.rejects(bird.configure({ file: '/x" soft' }), /unusable configuration file/);
        await assert.rejects(bird.showRoute('1.2.3.4/32 all'), /invalid prefix/);
        assert.deepEqual(received, []);
        bird.close();
      },
    );
  });
});

function birdConfig(extra = ''): string {
  return `router id 198.18.0.1;
protocol device {}
protocol static vip_a { ipv4; route 198.18.100.10/32 blackhole; }
protocol static vip_b { disabled; ipv4; route 198.18.100.11/32 blackhole; }
${extra}`;
}

async function stop(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
}

async function waitFor<T>(what: string, fn: () => Promise<T>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('against a real bird 2.0 (static protocols only, no kernel protocol)', { timeout: 60000 }, async (t) => {
  const birdBin = requireTool('bird');
  await withTempDir(async (dir) => {
    const conf = join(dir, 'bird.conf');
    const ctl = join(dir, 'bird.ctl');
    writeFileSync(conf, birdConfig());
    const child = spawn(birdBin, ['-f', '-c', conf, '-s', ctl, '-P', join(dir, 'bird.pid')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    let bird: BirdClient | undefined;
    try {
      bird = await waitFor(`bird's control socket (output: ${output})`, () => BirdClient.connect(ctl));
      const b = bird;
      assert.match(b.greeting, /^BIRD 2\.\d+\.\d+ ready\.$/);
      const stateOf = async (name: string) => (await b.showProtocols()).find((p) => p.name === name)?.state;

      await t.test('show protocols lists them', async () => {
        const protocols = await b.showProtocols();
        assert.deepEqual(
          protocols.map((p) => [p.name, p.proto, p.table, p.state]),
          [
            ['device1', 'Device', '---', 'up'],
            ['vip_a', 'Static', 'master4', 'up'],
            ['vip_b', 'Static', 'master4', 'down'],
          ],
        );
        const one = await b.showProtocols({ name: 'vip_a', all: true });
        assert.equal(one.length, 1);
        assert.ok(one[0]!.details.length > 0);
      });

      await t.test('disable and enable, judged by codes, read back', async () => {
        assert.deepEqual(await b.disableProtocol('vip_a').then((r) => [r.ok, r.changed, r.code]), [
          true,
          true,
          9,
        ]);
        await waitFor('vip_a down', async () => assert.equal(await stateOf('vip_a'), 'down'));
        assert.deepEqual(await b.disableProtocol('vip_a').then((r) => [r.ok, r.changed, r.code]), [
          true,
          false,
          8,
        ]);
        assert.deepEqual(await b.showRoute('198.18.100.10/32'), [], '8001 Network not found → no route');
        assert.deepEqual(await b.enableProtocol('vip_a').then((r) => [r.ok, r.changed, r.code]), [
          true,
          true,
          11,
        ]);
        assert.equal(await stateOf('vip_a'), 'up');
        assert.deepEqual(await b.enableProtocol('vip_a').then((r) => [r.ok, r.changed, r.code]), [
          true,
          false,
          10,
        ]);
        const routes = await b.showRoute('198.18.100.10/32');
        assert.deepEqual(
          routes.map((r) => [r.table, r.prefix, r.type, r.protocol, r.primary]),
          [['master4', '198.18.100.10/32', 'blackhole', 'vip_a', true]],
        );
        assert.equal((await b.showRoute(undefined, { protocol: 'vip_b' })).length, 0);
      });

      await t.test('unknown protocol: ok=false with an error code', async () => {
        const r = await b.enableProtocol('no_such_vip');
        assert.deepEqual([r.ok, r.code], [false, BirdCode.NO_PROTOCOLS_MATCH]);
        const bare = await b.command('disable no_such_vip');
        assert.deepEqual([bare.ok, bare.code], [false, BirdCode.PARSE_ERROR]);
        await assert.rejects(b.showRoute(undefined, { table: 'no_such_table' }), (err: unknown) => {
          assert.ok(err instanceof BirdReplyError);
          assert.equal(birdCodeClass(err.reply.code), 'parse-error');
          return true;
        });
      });

      await t.test('setProtocols: a batch with read-back', async () => {
        const res = await b.setProtocols([
          { name: 'vip_a', enabled: false },
          { name: 'vip_b', enabled: true },
        ]);
        assert.equal(res.ok, true, JSON.stringify(res.results));
        assert.deepEqual(
          res.results.map((r) => [r.name, r.code, r.confirmed]),
          [
            ['vip_a', 9, true],
            ['vip_b', 11, true],
          ],
        );
        const mixed = await b.setProtocols([
          { name: 'vip_a', enabled: true },
          { name: 'no_such_vip', enabled: true },
        ]);
        assert.equal(mixed.ok, false);
        assert.deepEqual(
          mixed.results.map((r) => [r.name, r.ok, r.code, r.confirmed]),
          [
            ['vip_a', true, 11, true],
            ['no_such_vip', false, 8003, false],
          ],
        );
        assert.equal(await stateOf('vip_b'), 'up');
      });

      await t.test('configure after rewriting the file', async () => {
        const check = await b.configure({ check: true });
        assert.deepEqual([check.ok, check.status, check.code], [true, 'checked', BirdCode.CONFIGURATION_OK]);
        writeFileSync(
          conf,
          birdConfig('protocol static vip_c { ipv4; route 198.18.100.12/32 blackhole; }\n'),
        );
        const res = await b.configure();
        assert.ok(res.ok, res.message);
        assert.ok([BirdCode.RECONFIGURED, BirdCode.RECONFIGURATION_IN_PROGRESS].includes(res.code as 3 | 4));
        await waitFor('vip_c up', async () => assert.equal(await stateOf('vip_c'), 'up'));
        // BIRD 2.0: configure puts runtime-enabled/disabled protocols back to their configured state.
        await waitFor('vip_b back to its configured disabled state', async () =>
          assert.equal(await stateOf('vip_b'), 'down'),
        );
        const soft = await b.configure({ soft: true });
        assert.ok(soft.ok, soft.message);
      });

      await t.test('configure errors are failures with BIRD’s message', async () => {
        const bad = join(dir, 'bad.conf');
        writeFileSync(bad, 'router id 198.18.0.1;\nprotocol static broken {\n');
        const res = await b.configure({ file: bad });
        assert.deepEqual(
          [res.ok, res.status, res.code],
          [false, 'failed', BirdCode.CONFIGURATION_FILE_ERROR],
        );
        assert.ok(res.message.includes(bad), res.message);
        const check = await b.configure({ check: true, file: bad });
        assert.deepEqual([check.ok, check.code], [false, BirdCode.CONFIGURATION_FILE_ERROR]);
        const missing = await b.configure({ file: join(dir, 'missing.conf') });
        assert.deepEqual([missing.ok, missing.code], [false, BirdCode.CONFIGURATION_FILE_ERROR]);
        // The running configuration is untouched.
        assert.equal(await stateOf('vip_c'), 'up');
      });

      await t.test('pipelined commands on one connection', async () => {
        const replies = await b.commands(['show status', 'disable "vip_c"', 'show protocols "vip_c"']);
        assert.deepEqual(
          replies.map((r) => r.code),
          [BirdCode.STATUS_REPORT, BirdCode.OK, BirdCode.OK],
        );
        assert.equal(replies[1]!.lines[0]!.code, BirdCode.DISABLED);
      });

      await t.test('a batch of 750 changes: sent in chunks BIRD takes (it resets past ~1 KiB)', async () => {
        const many = Array.from(
          { length: 750 },
          (_, i) =>
            `protocol static many_${i} { disabled; ipv4; route 198.18.${110 + Math.floor(i / 250)}.${i % 250}/32 blackhole; }`,
        );
        writeFileSync(conf, birdConfig(`${many.join('\n')}\n`));
        assert.ok((await b.configure()).ok);
        const names = many.map((_, i) => `many_${i}`);
        const on = await b.setProtocols(names.map((name) => ({ name, enabled: true })));
        assert.equal(on.ok, true);
        assert.equal(on.protocols.filter((p) => p.name.startsWith('many_') && p.state === 'up').length, 750);
        const off = await b.setProtocols(names.map((name) => ({ name, enabled: false })));
        assert.equal(off.ok, true);
        assert.equal(b.connected, true);
      });
    } finally {
      bird?.close();
      await stop(child);
    }
  });
});
