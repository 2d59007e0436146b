import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { type CheckOutcome, runCheck } from '../../src/healthd/checks.ts';
import { closeKeptConnections } from '../../src/healthd/kept-http.ts';
import type { HttpCheckSpec } from '../../src/healthd/types.ts';
import { pidAlive } from '../../src/runtime/pid.ts';
import { eventually } from '../helpers/ns-fixture.ts';
import { freePort, requireTool, withTempDir } from '../helpers/tools.ts';

/**
 * A server whose connections `onRequest` answers; it records connections and requests. Answers on
 * one connection go out in order, as a real server's do: an answer written over time (an async
 * `onRequest`) is finished before the next one starts, and one that fails ends the connection.
 */
async function serve(onRequest: (s: Socket, n: number, conn: number) => unknown) {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, requests: 0, resets: 0 };
  const server = createServer((s) => {
    const conn = ++stats.connections;
    let n = 0;
    let answering: Promise<unknown> = Promise.resolve();
    sockets.add(s);
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') stats.resets++;
    });
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      for (const _ of d.toString('latin1').matchAll(/\r\n\r\n/g)) {
        stats.requests++;
        const k = ++n;
        answering = answering
          .then(() => onRequest(s, k, conn))
          .catch((err: unknown) => s.destroy(err instanceof Error ? err : new Error(String(err))));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    stats,
    spec: (reuseMs = 30_000): HttpCheckSpec => ({
      kind: 'http',
      address: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      path: '/_intentlb/health',
      reuseMs,
    }),
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const CHECKS = new URL('../../src/healthd/checks.ts', import.meta.url).pathname;
const OK =
  'HTTP/1.1 200 OK\r\ncontent-length: 58\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n' +
  '<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n';
const DOWN = 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\ndown';

async function checks(spec: HttpCheckSpec, n: number, gapMs = 10, timeoutMs = 500): Promise<CheckOutcome[]> {
  const out: CheckOutcome[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await runCheck(spec, timeoutMs));
    await sleep(gapMs);
  }
  return out;
}
const oks = (os: CheckOutcome[]) => os.map((o) => (o.ok ? 'ok' : (o.error ?? 'fail')));

describe('HTTP checks on a kept connection', { timeout: 30_000 }, () => {
  it('reuse one keep-alive connection for every check', async () => {
    const s = await serve((sock) => sock.write(OK));
    try {
      assert.deepEqual(oks(await checks(s.spec(), 6)), Array(6).fill('ok'));
      assert.deepEqual([s.stats.connections, s.stats.requests], [1, 6]);
    } finally {
      await s.stop();
    }
  });

  it('open a fresh connection once the kept one is reuse_ms old, resetting the old one', async () => {
    const s = await serve((sock) => sock.write(OK));
    try {
      assert.deepEqual(oks(await checks(s.spec(40), 4, 50)), Array(4).fill('ok'));
      assert.deepEqual([s.stats.connections, s.stats.requests], [4, 4]);
      // Closed with a reset: no TIME_WAIT on the checker side.
      await eventually(() => s.stats.resets === 3, 5000, 'three resets');
    } finally {
      await s.stop();
    }
  });

  it('a 503 fails the check and keeps the connection', async () => {
    const s = await serve((sock, n) => sock.write(n === 2 ? DOWN : OK));
    try {
      assert.deepEqual(oks(await checks(s.spec(), 3)), ['ok', 'HTTP 503', 'ok']);
      assert.equal(s.stats.connections, 1);
    } finally {
      await s.stop();
    }
  });

  it('the server closing an idle connection costs no failed check', async () => {
    const s = await serve((sock) => {
      sock.write(OK);
      setTimeout(() => sock.end(), 5);
    });
    try {
      assert.deepEqual(oks(await checks(s.spec(), 3, 30)), ['ok', 'ok', 'ok']);
      assert.equal(s.stats.connections, 3);
    } finally {
      await s.stop();
    }
  });

  it('a kept connection that hangs up on the request is retried once on a fresh one', async () => {
    // The race of a keep-alive timeout: the server closes just as the next request goes out.
    const s = await serve((sock, n) => (n === 1 ? sock.write(OK) : sock.destroy()));
    try {
      assert.deepEqual(oks(await checks(s.spec(), 3)), ['ok', 'ok', 'ok']);
      assert.deepEqual([s.stats.connections, s.stats.requests], [3, 5]);
    } finally {
      await s.stop();
    }
  });

  it('a fresh connection that hangs up is a failure (no retry of a retry)', async () => {
    const s = await serve((sock) => sock.destroy());
    try {
      assert.deepEqual(oks(await checks(s.spec(), 2)), [
        'connection closed before an answer',
        'connection closed before an answer',
      ]);
      assert.equal(s.stats.connections, 2);
    } finally {
      await s.stop();
    }
  });

  it('an answer without a length, with Connection: close or from HTTP/1.0 ends the connection', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
    ];
    for (const a of answers) {
      const s = await serve((sock) => sock.write(a));
      try {
        assert.deepEqual(oks(await checks(s.spec(), 2)), ['ok', 'ok'], a);
        assert.equal(s.stats.connections, 2, a);
      } finally {
        await s.stop();
      }
    }
  });

  it('an answer split anywhere, its body arriving later, keeps the connection in step', async () => {
    const s = await serve(async (sock) => {
      for (const part of [OK.slice(0, 3), OK.slice(3, 40), OK.slice(40, 110), OK.slice(110)]) {
        sock.write(part);
        await sleep(3);
      }
    });
    try {
      assert.deepEqual(oks(await checks(s.spec(), 4, 30)), Array(4).fill('ok'));
      assert.equal(s.stats.connections, 1);
    } finally {
      await s.stop();
    }
  });

  it("a check asked while the last answer's body is still on its way: the rest is skipped, same connection", async () => {
    // The server sends each answer's head at once, and its 10-byte body only when the next request
    // comes: every check after the first starts with body bytes still owed.
    const s = await serve((sock, n) => {
      if (n > 1) sock.write('0123456789');
      sock.write(`HTTP/1.1 ${n === 3 ? 503 : 200} X\r\nContent-Length: 10\r\n\r\n`);
    });
    try {
      assert.deepEqual(oks(await checks(s.spec(), 4)), ['ok', 'ok', 'HTTP 503', 'ok']);
      assert.equal(s.stats.connections, 1);
    } finally {
      await s.stop();
    }
  });

  it('a timeout fails the check and drops the connection; bytes nobody asked for drop it too', async () => {
    let all = 0;
    const s = await serve((sock) => {
      all++;
      if (all === 2) return; // silent
      sock.write(all === 1 ? `${OK}HTTP/1.1 200 OK\r\n` : OK); // the first answer has bytes too many
    });
    try {
      const r = await checks(s.spec(), 4, 10, 200);
      // 1: ok, and the extra bytes end the connection; 2 (fresh): silent, timeout; 3, 4: fresh, ok.
      assert.deepEqual(oks(r), ['ok', 'timeout after 200 ms', 'ok', 'ok']);
      assert.equal(s.stats.connections, 3);
    } finally {
      await s.stop();
    }
  });

  it('property: any answers, split anywhere, give each check its own status on one connection', async () => {
    const answer = fc.record({
      status: fc.constantFrom(200, 204, 299, 301, 404, 500, 503),
      body: fc.string({ maxLength: 120 }),
      cuts: fc.array(fc.nat(), { maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(answer, { minLength: 1, maxLength: 5 }), async (answers) => {
        let i = 0;
        const s = await serve(async (sock) => {
          const a = answers[i++]!;
          const body = Buffer.from(a.body, 'utf8');
          const bytes = Buffer.concat([
            Buffer.from(`HTTP/1.1 ${a.status} X\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'),
            body,
          ]);
          let from = 0;
          for (const cut of [...a.cuts.map((c) => c % (bytes.length + 1))].sort((x, y) => x - y)) {
            if (cut > from) sock.write(bytes.subarray(from, cut));
            from = Math.max(from, cut);
            await sleep(1);
          }
          sock.write(bytes.subarray(from));
        });
        try {
          const got = oks(await checks(s.spec(), answers.length, 5));
          const want = answers.map((a) => (a.status < 300 ? 'ok' : `HTTP ${a.status}`));
          assert.deepEqual(got, want);
          assert.equal(s.stats.connections, 1);
        } finally {
          await s.stop();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('IPv6: a bracketed address, the Host header in brackets, one connection', async () => {
    const seen: string[] = [];
    const server = createServer((sock) => {
      sock.on('error', () => {});
      sock.on('data', (d) => {
        seen.push(d.toString('latin1'));
        sock.write(OK);
      });
    });
    await new Promise<void>((r) => server.listen(0, '::1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const spec: HttpCheckSpec = { kind: 'http', address: '[::1]', port, path: '/h', reuseMs: 30_000 };
      assert.deepEqual(oks(await checks(spec, 3)), ['ok', 'ok', 'ok']);
      assert.equal(seen.length, 3);
      assert.ok(
        seen.every((r) => r.startsWith(`GET /h HTTP/1.1\r\nHost: [::1]:${port}\r\n`)),
        seen[0],
      );
      assert.ok(!seen[0]!.includes('Connection: close'));
      closeKeptConnections([spec]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a kept connection never keeps the process alive; closeKeptConnections resets them', async () => {
    const s = await serve((sock) => sock.write(OK));
    try {
      // A process whose only check is done exits at once, its kept connection still open.
      const spec = s.spec();
      const code = `import { runCheck } from '${CHECKS}'; const r = await runCheck(${JSON.stringify(spec)}, 500); console.log(r.ok);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exit = await Promise.race([
        new Promise<number | null>((r) => child.once('exit', r)),
        sleep(10_000).then(() => 'still running' as const),
      ]);
      if (exit === 'still running') child.kill('SIGKILL');
      assert.equal(exit, 0);
      assert.equal(out.trim(), 'true');

      const mine = s.spec();
      assert.deepEqual(oks(await checks(mine, 2)), ['ok', 'ok']);
      const before = s.stats.resets;
      closeKeptConnections([mine]);
      await eventually(() => s.stats.resets === before + 1, 5000, 'reset by closeKeptConnections');
      assert.deepEqual(oks(await checks(mine, 1)), ['ok'], 'the next check opens a fresh one');
    } finally {
      await s.stop();
    }
  });

  it('with a real HAProxy: one connection for many checks, and a reload moves the checks to the new worker', async () => {
    const haproxy = requireTool('haproxy');
    await withTempDir(async (dir) => {
      const port = await freePort();
      const cfg = join(dir, 'h.cfg');
      const write = (tag: string) =>
        writeFileSync(
          cfg,
          [
            'global',
            `    stats socket ${dir}/admin.sock mode 600 level admin`,
            '    hard-stop-after 30s',
            `    # ${tag}`,
            'defaults',
            '    timeout connect 5s',
            '    timeout client 30s',
            '    timeout server 30s',
            'frontend monitor',
            '    mode http',
            `    bind 127.0.0.1:${port}`,
            '    timeout client 5s',
            '    timeout http-request 2s',
            '    monitor-uri /_intentlb/health',
            '    http-request deny',
            '',
          ].join('\n'),
        );
      write('first');
      const master = spawn(haproxy, ['-W', '-f', cfg, '-p', join(dir, 'pid'), '-S', `${dir}/master.sock`], {
        stdio: 'ignore',
      });
      try {
        const spec: HttpCheckSpec = {
          kind: 'http',
          address: '127.0.0.1',
          port,
          path: '/_intentlb/health',
          reuseMs: 30_000,
        };
        let first: CheckOutcome | undefined;
        for (let i = 0; i < 50 && !first?.ok; i++) {
          await sleep(50);
          first = await runCheck(spec, 500);
        }
        assert.ok(first?.ok, JSON.stringify(first));
        assert.deepEqual(oks(await checks(spec, 5, 50)), Array(5).fill('ok'));
        const workersBefore = workers(dir);
        write('second');
        process.kill(master.pid!, 'SIGUSR2');
        // The old worker lets the idle kept connection go; every check stays ok and the old worker
        // exits instead of waiting for hard-stop-after.
        const after = await checks(spec, 20, 100);
        assert.deepEqual(oks(after), Array(20).fill('ok'));
        const left = workersBefore.filter((pid) => pidAlive(pid));
        assert.deepEqual(left, [], `old worker(s) ${left.join(' ')} still running 2 s after the reload`);
      } finally {
        master.kill('SIGTERM');
        await new Promise((r) => master.once('exit', r));
      }
    });
  });
});

/** The worker PIDs of the master-worker HAProxy whose pid file is in `dir`. */
function workers(dir: string): number[] {
  const master = Number(readFileSync(join(dir, 'pid'), 'utf8').trim().split('\n')[0]);
  const children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim();
  return children === '' ? [] : children.split(/\s+/).map(Number);
}
