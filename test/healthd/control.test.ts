import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type ControlRequest,
  HealthdControlError,
  HealthdRefusedError,
  healthdControl,
  holdVip,
  parseRequest,
  releaseVip,
} from '../../src/healthd/control-client.ts';
import { startControlServer } from '../../src/healthd/control-server.ts';
import { withTempDir } from '../helpers/tools.ts';

describe('control protocol: requests', () => {
  const valid: [string, ControlRequest][] = [
    ['{"cmd":"status"}', { cmd: 'status' }],
    ['{"cmd":"drain"}', { cmd: 'drain' }],
    ['{"cmd":"drain","timeout_ms":5000}', { cmd: 'drain', timeout_ms: 5000 }],
    ['{"cmd":"undrain"}', { cmd: 'undrain' }],
    ['{"cmd":"hold","vip":"web-www"}', { cmd: 'hold', vip: 'web-www' }],
    ['{"cmd":"hold","vip":"web-www","timeout_ms":100}', { cmd: 'hold', vip: 'web-www', timeout_ms: 100 }],
    ['{"cmd":"release","vip":"web-www"}', { cmd: 'release', vip: 'web-www' }],
    ['{"cmd":"reload"}', { cmd: 'reload' }],
    ['{"cmd":"reconcile"}', { cmd: 'reconcile' }],
  ];
  for (const [line, request] of valid) {
    it(`accepts ${line}`, () => assert.deepEqual(parseRequest(line), request));
  }
  const invalid: [string, string | undefined][] = [
    ['not json', undefined],
    ['[]', undefined],
    ['{"cmd":"reboot"}', undefined],
    ['{"cmd":"hold"}', 'hold'],
    ['{"cmd":"hold","vip":""}', 'hold'],
    ['{"cmd":"hold","vip":"a","timeout_ms":-1}', 'hold'],
    ['{"cmd":"status","extra":1}', 'status'],
    ['{"cmd":"release","vip":7}', 'release'],
  ];
  for (const [line, cmd] of invalid) {
    it(`refuses ${line}`, () => {
      const r = parseRequest(line);
      assert.ok('ok' in r && !r.ok);
      assert.equal(r.code, 'E_BAD_REQUEST');
      assert.equal(r.cmd, cmd);
    });
  }
});

describe('control socket: server and client', { timeout: 30_000 }, () => {
  it('one JSON line each way, answered in order; refusals are replies, not throws', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'run', 'healthd.sock');
      const seen: ControlRequest[] = [];
      const server = await startControlServer(path, async (r) => {
        seen.push(r);
        if (r.cmd === 'hold' && r.vip === 'slow') await new Promise((res) => setTimeout(res, 200));
        if (r.cmd === 'hold' && r.vip === 'boom') throw new Error('bug');
        if (r.cmd === 'hold') {
          return r.vip === 'nope'
            ? { ok: false, cmd: 'hold', code: 'E_UNKNOWN_VIP', error: 'no VIP nope' }
            : { ok: true, cmd: 'hold', vips: [r.vip], waited_ms: 3, converged: true };
        }
        if (r.cmd === 'release') return { ok: true, cmd: 'release', vips: [r.vip] };
        return { ok: false, cmd: r.cmd, code: 'E_BAD_REQUEST', error: 'not in this test' };
      });
      try {
        assert.equal(statSync(path).mode & 0o777, 0o600, 'only the owner (root) may control healthd');
        const held = await healthdControl(path, { cmd: 'hold', vip: 'web' }, 5000);
        assert.deepEqual(held, { ok: true, cmd: 'hold', vips: ['web'], waited_ms: 3, converged: true });
        // The client tells the daemon to give up a little before it does.
        assert.deepEqual(seen[0], { cmd: 'hold', vip: 'web', timeout_ms: 4500 });

        const refused = await healthdControl(path, { cmd: 'hold', vip: 'nope' }, 5000);
        assert.deepEqual(refused, { ok: false, cmd: 'hold', code: 'E_UNKNOWN_VIP', error: 'no VIP nope' });
        await assert.rejects(holdVip(path, 'nope', 5000), (e: unknown) => {
          assert.ok(e instanceof HealthdRefusedError);
          assert.equal(e.reply.code, 'E_UNKNOWN_VIP');
          return true;
        });
        assert.deepEqual(await holdVip(path, 'web-www', 5000), {
          ok: true,
          cmd: 'hold',
          vips: ['web-www'],
          waited_ms: 3,
          converged: true,
        });
        assert.deepEqual(await releaseVip(path, 'web-www', 5000), {
          ok: true,
          cmd: 'release',
          vips: ['web-www'],
        });

        const bug = await healthdControl(path, { cmd: 'hold', vip: 'boom' }, 5000);
        assert.equal(bug.ok === false && bug.code, 'E_INTERNAL');

        // A slow request on one connection does not hold up another.
        const slow = healthdControl(path, { cmd: 'hold', vip: 'slow' }, 5000);
        const quick = await healthdControl(path, { cmd: 'release', vip: 'x' }, 5000);
        assert.equal(quick.ok, true);
        assert.equal((await slow).ok, true);

        await assert.rejects(healthdControl(path, { cmd: 'hold', vip: 'slow' }, 50), (e: unknown) => {
          assert.ok(e instanceof HealthdControlError);
          assert.equal(e.code, 'E_TIMEOUT');
          return true;
        });

        // A second daemon must not steal the socket.
        await assert.rejects(
          startControlServer(path, async () => ({ ok: true, cmd: 'undrain', vips: [] })),
          /another healthd/,
        );
      } finally {
        await server.close();
      }
      await assert.rejects(healthdControl(path, { cmd: 'status' }, 1000), (e: unknown) => {
        assert.ok(e instanceof HealthdControlError);
        assert.equal(e.code, 'E_NOT_RUNNING');
        return true;
      });
    });
  });

  it('a stale socket file is replaced; a regular file is left alone', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'healthd.sock');
      const stale = createServer();
      await new Promise<void>((r) => stale.listen(path, r));
      // Simulate a daemon that died without removing its socket: close the listener, keep the file.
      const handle = (stale as unknown as { _handle: { close(): void } | null })._handle;
      handle?.close();
      const server = await startControlServer(path, async () => ({ ok: true, cmd: 'undrain', vips: [] }));
      assert.equal((await healthdControl(path, { cmd: 'undrain' }, 2000)).ok, true);
      await server.close();

      const file = join(dir, 'not-a-socket');
      writeFileSync(file, 'keep me');
      await assert.rejects(
        startControlServer(file, async () => ({ ok: true, cmd: 'undrain', vips: [] })),
        /not a socket/,
      );
    });
  });

  it('a reply that is not JSON is a transport error', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'odd.sock');
      const conns = new Set<Socket>();
      const odd = createServer((c) => {
        conns.add(c);
        c.end('hello\n');
      });
      await new Promise<void>((r) => odd.listen(path, r));
      try {
        await assert.rejects(healthdControl(path, { cmd: 'status' }, 2000), (e: unknown) => {
          assert.ok(e instanceof HealthdControlError);
          assert.equal(e.code, 'E_TRANSPORT');
          return true;
        });
      } finally {
        for (const c of conns) c.destroy();
        await new Promise<void>((r) => odd.close(() => r()));
      }
    });
  });
});
