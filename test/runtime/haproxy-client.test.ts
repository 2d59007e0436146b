import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  HaproxyClient,
  HaproxyCommandError,
  HaproxyConnectionError,
  HaproxyReloadError,
  MasterClient,
} from '../../src/runtime/haproxy-client.ts';
import {
  parseServersState,
  parseShowInfo,
  parseShowProc,
  parseShowStat,
  parseUptime,
  splitCsvLine,
} from '../../src/runtime/haproxy-parse.ts';
import { pidAlive } from '../../src/runtime/pid.ts';
import { freePort, requireTool, withTempDir } from '../helpers/tools.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('haproxy answers recorded from 2.6.12', () => {
  test('show stat: every column, numbers typed, text kept', () => {
    const text = fixture('haproxy-show-stat.txt');
    const rows = parseShowStat(text);
    const columns = text
      .split('\n')[0]!
      .slice(2)
      .split(',')
      .filter((c) => c !== '');
    assert.equal(columns.length, 128);
    assert.deepEqual(rows.map((r) => `${r.pxname}/${r.svname}`).slice(0, 5), [
      'fe/FRONTEND',
      'be/s1',
      'be/s2',
      'be/s3',
      'be/BACKEND',
    ]);
    const s1 = rows.find((r) => r.pxname === 'be' && r.svname === 's1')!;
    assert.equal(s1.status, 'no check');
    assert.equal(s1.weight, 10);
    assert.equal(s1.uweight, 10);
    assert.equal(s1.scur, 0);
    assert.equal(s1.type, 2);
    assert.equal(s1.addr, '127.0.0.1:19001');
    assert.equal(s1.mode, 'http');
    assert.equal(s1.qlimit, undefined, 'empty cells are absent');
    const s2 = rows.find((r) => r.svname === 's2' && r.pxname === 'be')!;
    assert.equal(s2.status, 'DRAIN');
    const s3 = rows.find((r) => r.svname === 's3')!;
    assert.equal(s3.status, 'MAINT');
    assert.equal(s3.uweight, 7, 'a dynamic server in MAINT: uweight is the weight it was added with');
    const fe = rows.find((r) => r.svname === 'FRONTEND')!;
    assert.equal(fe.status, 'OPEN');
    assert.equal(fe.slim, 9980);
    const be = rows.find((r) => r.pxname === 'be' && r.svname === 'BACKEND')!;
    assert.equal(be.algo, 'roundrobin');
  });

  test('CSV cells quoted by HAProxy', () => {
    assert.deepEqual(splitCsvLine('a,"b,c",,"say ""hi""",'), ['a', 'b,c', '', 'say "hi"', '']);
  });

  test('show servers state: typed, admin-state mask decoded', () => {
    const rows = parseServersState(fixture('haproxy-show-servers-state.txt'));
    const be = rows.filter((r) => r.be_name === 'be');
    assert.deepEqual(
      be.map((r) => [r.srv_name, r.srv_addr, r.srv_port, r.srv_admin_state, r.maint, r.drain, r.srv_uweight]),
      [
        ['s1', '127.0.0.1', 19001, 0, false, false, 10],
        ['s2', '::1', 19002, 8, false, true, 1],
        ['s3', '127.0.0.1', 19003, 1, true, false, 7],
      ],
    );
    assert.equal(be[0]!.srv_fqdn, undefined, "'-' is absent");
    assert.equal(be[0]!.srv_op_state, 2);
  });

  test('show info', () => {
    const info = parseShowInfo(fixture('haproxy-show-info.txt'));
    assert.match(info.Version!, /^2\.6\.12/);
    assert.match(info.Pid!, /^\d+$/);
    assert.equal(info['Unstoppable Jobs'], '1');
    assert.equal(info.Stopping, '0');
  });

  test('show proc: master, workers, old workers, failed reloads', () => {
    const plain = parseShowProc(fixture('haproxy-show-proc.txt'));
    assert.deepEqual(
      plain.map((p) => [p.type, p.current, p.relative, p.reloads, p.failedReloads]),
      [
        ['master', true, undefined, 1, 0],
        ['worker', true, 1, 0, undefined],
      ],
    );
    assert.equal(plain[0]!.uptime, '0d00h00m09s');
    assert.equal(plain[0]!.uptimeSeconds, 9);
    assert.match(plain[0]!.version, /^2\.6\.12/);

    const old = parseShowProc(fixture('haproxy-show-proc-old-workers.txt'));
    assert.deepEqual(
      old.map((p) => [p.type, p.current, p.relative, p.reloads]),
      [
        ['master', true, undefined, 2],
        ['worker', true, 1, 0],
        ['worker', false, undefined, 1],
      ],
    );

    const failed = parseShowProc(fixture('haproxy-show-proc-failed.txt'));
    assert.equal(failed[0]!.failedReloads, 1);
    assert.equal(failed[0]!.reloads, 3);
    // The worker survived the failed reload: it stays current, its counter grew.
    assert.deepEqual(
      failed.filter((p) => p.type === 'worker').map((p) => [p.pid, p.current, p.reloads]),
      [[old[1]!.pid, true, 1]],
    );
  });

  test('uptime', () => {
    assert.equal(parseUptime('1d02h03m04s'), 93784);
    assert.ok(Number.isNaN(parseUptime('soon')));
  });

  test('error answers are not parsed as data', () => {
    assert.throws(() => parseShowStat('No such proxy.\n\n'), HaproxyCommandError);
    assert.throws(() => parseServersState("Can't find backend.\n\n"), HaproxyCommandError);
    assert.throws(() => parseShowInfo('Permission denied\n\n'), HaproxyCommandError);
    assert.throws(() => parseShowProc('Unknown command\n'), HaproxyCommandError);
  });
});

/** A fake stats socket: answers each line with `answer(line)` then closes (unless it returns null). */
async function withFakeSocket(
  answer: (line: string) => string | null,
  fn: (path: string, seen: string[]) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const path = join(dir, 'fake.sock');
    const seen: string[] = [];
    // Half-open: the client ends its side after the command, the answer comes after that.
    const server: Server = createServer({ allowHalfOpen: true }, (conn) => {
      let buf = '';
      conn.on('data', (d) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        seen.push(line);
        const reply = answer(line);
        if (reply !== null) conn.end(reply);
      });
      conn.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      await fn(path, seen);
    } finally {
      server.close();
    }
  });
}

describe('haproxy client against a fake socket', () => {
  test('helpers judge the answer: empty or known success text, anything else throws with the answer', async () => {
    const answers: Record<string, string> = {
      'set server be/s1 weight 5': '\n',
      'set server be/nope weight 5': 'No such server.\n\n',
      'set server be/s1 addr 127.0.0.2 port 81':
        "IP changed from '127.0.0.1' to '127.0.0.2', port changed from '80' to '81' by 'stats socket command'\n\n",
      'set server be/s1 addr 127.0.0.3 port 81':
        "IP changed from '127.0.0.2' to '127.0.0.3', problem converting port 'x' to an int by 'stats socket command'\n\n",
      'add server be/s9 [2001:db8::1]:80 weight 3': 'New server registered.\n\n',
      'enable server be/s9': '\n',
      'del server be/s9': 'Only servers in maintenance mode can be deleted.\n',
    };
    await withFakeSocket(
      (line) => answers[line] ?? 'Unknown command\n',
      async (path, seen) => {
        const c = new HaproxyClient({ path });
        await c.setServerWeight('be', 's1', 5);
        await assert.rejects(c.setServerWeight('be', 'nope', 5), (err: unknown) => {
          assert.ok(err instanceof HaproxyCommandError);
          assert.equal(err.answer, 'No such server.\n\n');
          assert.equal(err.command, 'set server be/nope weight 5');
          return true;
        });
        assert.match(await c.setServerAddr('be', 's1', '127.0.0.2', 81), /^IP changed/);
        await assert.rejects(c.setServerAddr('be', 's1', '127.0.0.3', 81), /problem converting port/);
        await c.addServer('be', 's9', { address: '2001:db8::1', port: 80, options: ['weight', '3'] });
        await assert.rejects(c.delServer('be', 's9'), /Only servers in maintenance mode/);
        assert.deepEqual(seen, [
          'set server be/s1 weight 5',
          'set server be/nope weight 5',
          'set server be/s1 addr 127.0.0.2 port 81',
          'set server be/s1 addr 127.0.0.3 port 81',
          'add server be/s9 [2001:db8::1]:80 weight 3',
          'enable server be/s9',
          'del server be/s9',
        ]);
      },
    );
  });

  test('injection: newlines, control characters and ; are refused before connecting', async () => {
    await withFakeSocket(
      () => '\n',
      async (path, seen) => {
        const c = new HaproxyClient({ path });
        await assert.rejects(c.command('show info\nshutdown frontend fe'), /newline/);
        await assert.rejects(c.command('show info; shutdown frontend fe'), /';'/);
        await assert.rejects(c.setServerWeight('be', 's1;shutdown', 1), /invalid server name/);
        await assert.rejects(c.setServerWeight('be', 's 1', 1), /invalid server name/);
        await assert.rejects(c.setServerAddr('be', 's1', '1.2.3.4 port 9'), /not an IP address/);
        await assert.rejects(
          c.addServer('be', 's1', { address: '1.2.3.4', options: ['weight;1'] }),
          /argument/,
        );
        await assert.rejects(c.setServerWeight('be', 's1', 257), /0\.\.256/);
        assert.deepEqual(seen, []);
        assert.equal(await c.command('show info;show stat', { allowSemicolon: true }), '\n');
        assert.deepEqual(seen, ['show info;show stat']);
      },
    );
  });

  test('no answer in time: connection error, socket closed', async () => {
    await withFakeSocket(
      () => null,
      async (path) => {
        const c = new HaproxyClient({ path }, { timeoutMs: 200 });
        const started = Date.now();
        await assert.rejects(c.command('show info'), HaproxyConnectionError);
        assert.ok(Date.now() - started < 2000);
      },
    );
  });

  test('closed without a byte: a change is not judged successful', async () => {
    await withFakeSocket(
      () => '',
      async (path) => {
        const c = new HaproxyClient({ path });
        await assert.rejects(c.setServerState('be', 's1', 'maint'), /connection closed without an answer/);
        assert.equal(await c.command('show info'), '');
      },
    );
  });

  test('nothing listening', async () => {
    await withTempDir(async (dir) => {
      await assert.rejects(
        new HaproxyClient({ path: join(dir, 'none.sock') }).showInfo(),
        HaproxyConnectionError,
      );
    });
  });
});

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

async function stop(child: ChildProcess, extraPids: readonly number[]): Promise<void> {
  const pid = child.pid;
  if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    }, 3000);
    await exited;
    clearTimeout(timer);
  }
  for (const p of extraPids) if (pidAlive(p)) process.kill(p, 'SIGKILL');
}

function haproxyConfig(dir: string, port: number): string {
  return `global
    stats socket ${dir}/admin.sock level admin expose-fd listeners
    hard-stop-after 5s

defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s

frontend fe
    bind 127.0.0.1:${port}
    default_backend be

backend be
    balance roundrobin
    server s1 127.0.0.1:1 weight 10
    server s2 127.0.0.1:2

backend static
    balance static-rr
    server s1 127.0.0.1:3
`;
}

test('against a real haproxy 2.6 (master-worker)', { timeout: 90000 }, async (t) => {
  const haproxy = requireTool('haproxy');
  await withTempDir(async (dir) => {
    const cfg = join(dir, 'haproxy.cfg');
    const port = await freePort();
    writeFileSync(cfg, haproxyConfig(dir, port));
    const child = spawn(haproxy, ['-W', '-S', join(dir, 'master.sock'), '-f', cfg, '-db'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const workers = new Set<number>();
    try {
      const admin = new HaproxyClient({ path: join(dir, 'admin.sock') });
      const master = new MasterClient({ path: join(dir, 'master.sock') });
      await waitFor(`haproxy to answer (output: ${output})`, async () => {
        await admin.showInfo();
        await master.showProc();
      });
      const stat = async (sv: string, px = 'be') => {
        const row = (await admin.showStat()).find((r) => r.pxname === px && r.svname === sv);
        assert.ok(row, `${px}/${sv} in show stat`);
        return row;
      };

      await t.test('show stat lists the frontend, backend and servers', async () => {
        const rows = await admin.showStat();
        const names = rows.map((r) => `${r.pxname}/${r.svname}`);
        for (const n of ['fe/FRONTEND', 'be/s1', 'be/s2', 'be/BACKEND']) assert.ok(names.includes(n), n);
        assert.equal((await stat('s1')).weight, 10);
        assert.equal((await stat('s1')).status, 'no check');
      });

      await t.test('weight: absolute and relative', async () => {
        await admin.setServerWeight('be', 's1', 42);
        assert.equal((await stat('s1')).weight, 42);
        assert.equal((await admin.showServersState('be')).find((r) => r.srv_name === 's1')?.srv_uweight, 42);
        await admin.setServerWeight('be', 's1', '50%');
        assert.equal((await stat('s1')).weight, 5, '50% of the configured weight 10');
        await assert.rejects(admin.setServerWeight('be', 'nosuch', 1), (err: unknown) => {
          assert.ok(err instanceof HaproxyCommandError);
          assert.equal(err.answer.trim(), 'No such server.');
          return true;
        });
      });

      await t.test('admin states: drain, maint, ready, disable, enable', async () => {
        await admin.setServerState('be', 's2', 'drain');
        assert.equal((await stat('s2')).status, 'DRAIN');
        assert.equal((await admin.showServersState('be')).find((r) => r.srv_name === 's2')?.drain, true);
        await admin.setServerState('be', 's2', 'maint');
        assert.equal((await stat('s2')).status, 'MAINT');
        assert.equal((await admin.showServersState('be')).find((r) => r.srv_name === 's2')?.maint, true);
        await admin.setServerState('be', 's2', 'ready');
        assert.equal((await stat('s2')).status, 'no check');
        await admin.disableServer('be', 's2');
        assert.equal((await stat('s2')).status, 'MAINT');
        await admin.enableServer('be', 's2');
        assert.equal((await stat('s2')).status, 'no check');
      });

      await t.test('set server addr', async () => {
        assert.match(await admin.setServerAddr('be', 's2', '127.0.0.2', 8081), /^IP changed from/);
        assert.equal((await stat('s2')).addr, '127.0.0.2:8081');
        assert.match(await admin.setServerAddr('be', 's2', '127.0.0.2'), /^no need to change the addr/);
      });

      await t.test('add server and del server', async () => {
        await admin.addServer('be', 's3', { address: '127.0.0.1', port: 4, options: ['weight', '7'] });
        const s3 = await stat('s3');
        assert.equal(s3.status, 'no check', 'enabled after add');
        assert.equal(s3.weight, 7);
        await assert.rejects(
          admin.addServer('be', 's3', { address: '127.0.0.1', port: 4 }),
          /Already exists a server with the same name/,
        );
        await assert.rejects(admin.delServer('be', 's3'), /Only servers in maintenance mode can be deleted/);
        await admin.delServer('be', 's3', { maintFirst: true });
        assert.equal(
          (await admin.showStat()).find((r) => r.svname === 's3'),
          undefined,
        );

        await admin.addServer('be', 's4', { address: '::1', port: 5, enable: false });
        assert.equal((await stat('s4')).status, 'MAINT', 'a new dynamic server starts in maintenance');
        await admin.delServer('be', 's4');
        await assert.rejects(
          admin.addServer('static', 's9', { address: '127.0.0.1', port: 6 }),
          /Backend must use a dynamic load balancing to support dynamic servers/,
        );
      });

      await t.test('master: show proc and a worker through the master', async () => {
        const procs = await master.showProc();
        assert.equal(procs.filter((p) => p.type === 'master').length, 1);
        assert.equal(procs[0]!.pid, child.pid);
        const current = procs.filter((p) => p.type === 'worker' && p.current);
        assert.equal(current.length, 1);
        workers.add(current[0]!.pid);
        const info = await master.worker(1).showInfo();
        assert.equal(Number(info.Pid), current[0]!.pid);
        const viaPid = await master.worker({ pid: current[0]!.pid }).showServersState('be');
        assert.ok(viaPid.some((r) => r.srv_name === 's1'));
        await assert.rejects(master.worker(9).showInfo(), /no such worker/);
        await master.worker(1).setServerWeight('be', 's2', 3);
        assert.equal((await stat('s2')).weight, 3);
        await assert.rejects(master.worker(1).setServerWeight('be', 'nosuch', 3), /No such server/);
      });

      await t.test('reload: a new worker, the old one exits', async () => {
        const before = (await master.showProc()).find((p) => p.type === 'worker' && p.current)!;
        const result = await master.reload({ timeoutMs: 15000 });
        for (const p of result.newWorkers) workers.add(p);
        assert.equal(result.masterPid, child.pid, 'the master keeps its PID (re-exec)');
        assert.deepEqual(result.oldWorkers, [before.pid]);
        assert.equal(result.newWorkers.length, 1);
        assert.notEqual(result.newWorkers[0], before.pid);
        assert.deepEqual(await master.waitForExit([before.pid], { timeoutMs: 10000 }), []);
        await waitFor(
          'the old worker process to be gone',
          async () => assert.ok(!pidAlive(before.pid)),
          5000,
        );
        // The new worker serves the admin socket; runtime changes did not survive the reload.
        assert.equal((await stat('s1')).weight, 10);
        assert.equal(Number((await admin.showInfo()).Pid), result.newWorkers[0]);
      });

      await t.test('reload of an invalid configuration fails and keeps the workers', async () => {
        const good = readFileSync(cfg, 'utf8');
        writeFileSync(cfg, `${good}\nbackend broken\n    no_such_keyword\n`);
        const before = (await master.showProc()).find((p) => p.type === 'worker' && p.current)!;
        await assert.rejects(master.reload({ timeoutMs: 15000 }), (err: unknown) => {
          assert.ok(err instanceof HaproxyReloadError);
          assert.match(err.message, /reload failed/);
          return true;
        });
        const after = await master.showProc();
        assert.deepEqual(
          after.filter((p) => p.type === 'worker' && p.current).map((p) => p.pid),
          [before.pid],
        );
        writeFileSync(cfg, good);
        const ok = await master.reload({ timeoutMs: 15000 });
        for (const p of ok.newWorkers) workers.add(p);
        assert.equal((await master.showProc())[0]!.failedReloads, 0, 'a good reload resets the failed count');
      });
    } finally {
      await stop(child, [...workers]);
    }
  });
});
