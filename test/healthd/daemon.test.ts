import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { healthdControl, holdVip, releaseVip } from '../../src/healthd/control-client.ts';
import { HealthdConfigError, HealthdDaemon } from '../../src/healthd/daemon.ts';
import type { HealthdStatus } from '../../src/healthd/status.ts';
import { eventually } from '../helpers/ns-fixture.ts';
import { withTempDir } from '../helpers/tools.ts';
import { FakeBird } from './fake-bird.ts';

/** An HTTP check target on loopback whose answer the test flips. */
async function httpTarget(): Promise<{ server: HttpServer; port: number; status: { code: number } }> {
  const status = { code: 200 };
  // With a length, as HAProxy's monitor answers (node's default would be chunked, which ends a
  // kept connection after each answer).
  const server = createHttpServer((_req, res) => res.writeHead(status.code, { 'Content-Length': 0 }).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, status };
}

async function tcpTarget(): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

const HOOK_SCRIPT = 'require("fs").appendFileSync(process.argv[1], process.argv.slice(2).join(" ") + "\\n")';

function config(dir: string, ports: { a: number; b: number }, vips: ('a' | 'b' | 'c')[]): string {
  const hook = [process.execPath, '-e', HOOK_SCRIPT, join(dir, 'hooks.log')];
  const common = { interval_ms: 50, timeout_ms: 500, rise: 2, fall: 2, hold_down_ms: 300 };
  const all = {
    a: {
      name: 'a',
      prefixes: ['198.18.100.1/32', '2001:db8:100::1/128'],
      protocols: ['vip_a', 'vip6_a'],
      check: { kind: 'http', address: '127.0.0.1', port: ports.a, path: '/health' },
      ...common,
      pidfile: 'a.pid',
    },
    b: {
      name: 'b',
      prefixes: ['198.18.100.2/32'],
      protocols: ['vip_b'],
      check: { kind: 'tcp', address: '127.0.0.1', port: ports.b },
      ...common,
    },
    c: {
      name: 'c',
      prefixes: ['198.18.100.3/32'],
      protocols: ['vip_c'],
      check: { kind: 'tcp', address: '127.0.0.1', port: ports.b },
      ...common,
    },
  };
  // JSON is YAML: the hook's script needs no quoting rules of its own.
  return JSON.stringify(
    {
      node: 't1',
      mode: 'anycast',
      bird: { socket: 'bird.ctl', poll_ms: 200, timeout_ms: 2000 },
      control: 'healthd.sock',
      listen: { address: '127.0.0.1', port: 0 },
      converge_ms: 150,
      hooks: { on_up: [hook], on_down: [hook], timeout_ms: 5000 },
      vips: vips.map((v) => all[v]),
    },
    null,
    2,
  );
}

describe('healthd daemon (in-process, fake BIRD, loopback targets)', { timeout: 120_000 }, () => {
  it('announces, withdraws, holds, drains, reconciles, reloads and withdraws on shutdown', async () => {
    await withTempDir(async (dir) => {
      const bird = new FakeBird(join(dir, 'bird.ctl'), ['vip_a', 'vip6_a', 'vip_b', 'vip_c']);
      await bird.start();
      const a = await httpTarget();
      const b = await tcpTarget();
      const file = join(dir, 'healthd.yaml');
      writeFileSync(file, config(dir, { a: a.port, b: b.port }, ['a', 'b']));
      let sleeper: ChildProcess = spawn('sleep', ['120'], { stdio: 'ignore' });
      writeFileSync(join(dir, 'a.pid'), `${sleeper.pid}\n`);
      const logs: Record<string, unknown>[] = [];
      let daemon: HealthdDaemon | undefined;
      const socket = join(dir, 'healthd.sock');
      const hookLines = () =>
        existsSync(join(dir, 'hooks.log'))
          ? readFileSync(join(dir, 'hooks.log'), 'utf8').trim().split('\n')
          : [];
      const on = (...ps: string[]) => ps.every((p) => bird.enabled(p) === true);
      const off = (...ps: string[]) => ps.every((p) => bird.enabled(p) === false);
      try {
        daemon = await HealthdDaemon.start({
          configPath: file,
          log: { write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) },
          defaultMetrics: false,
          pidIntervalMs: 20,
          birdReconnectMaxMs: 200,
        });
        const d = daemon;
        const http = `http://127.0.0.1:${d.httpAddress?.port}`;
        const status = async (): Promise<HealthdStatus> =>
          (await (await fetch(`${http}/status`)).json()) as HealthdStatus;
        const vipStatus = async (name: string) => (await status()).vips.find((v) => v.name === name);
        const metric = async (line: string) => (await (await fetch(`${http}/metrics`)).text()).includes(line);

        await t(
          'start: the reconcile withdraws everything in one operation, then checks announce',
          async () => {
            await eventually(() => on('vip_a', 'vip6_a', 'vip_b'), 10_000, 'announced');
            assert.deepEqual(bird.batches[0], ['disable "vip6_a"', 'disable "vip_a"', 'disable "vip_b"']);
            const s = await status();
            assert.equal(s.node, 't1');
            assert.equal(s.bird.connected, true);
            assert.deepEqual(
              s.vips.map((v) => [v.name, v.health, v.announced, v.bird, v.process]),
              [
                ['a', 'up', true, 'announced', 'running'],
                ['b', 'up', true, 'announced', 'unknown'],
              ],
            );
            assert.equal(s.vips[0]?.pid, sleeper.pid);
            assert.ok(s.vips[0]?.last_check?.ok);
            await eventually(
              () => hookLines().includes('a up') && hookLines().includes('b up'),
              10_000,
              'up hooks',
            );
            assert.ok(logs.some((l) => l.msg === 'announce' && l.vip === 'a'));
          },
        );

        await t("a's HTTP checks reuse one connection; b's TCP checks open one each", async () => {
          let text = '';
          const value = (re: RegExp): number =>
            [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
          const countA = /^intentlb_healthd_checks_total\{vip="a",result="\w+"\} (\d+)$/gm;
          // Enough checks of a to tell one connection from one per check.
          await eventually(
            async () => {
              text = await (await fetch(`${http}/metrics`)).text();
              return value(countA) >= 10;
            },
            10_000,
            'a checked 10 times',
          );
          const checksA = value(countA);
          const checksB = value(/^intentlb_healthd_checks_total\{vip="b",result="\w+"\} (\d+)$/gm);
          const connections = value(/^intentlb_healthd_check_connections_total (\d+)$/gm);
          // b: one per check, give or take the one in flight; a: one for all of them.
          assert.ok(
            connections >= checksB && connections <= checksB + 3,
            `${connections} connections, b ${checksB}, a ${checksA}`,
          );
        });

        await t('drain: every VIP in ONE BIRD operation; answered once confirmed and converged', async () => {
          const before = bird.batches.length;
          const reply = await healthdControl(socket, { cmd: 'drain' }, 10_000);
          if (!reply.ok) assert.fail(JSON.stringify(reply));
          assert.ok(off('vip_a', 'vip6_a', 'vip_b'), 'withdrawn when drain answers');
          assert.deepEqual(reply.vips, ['a', 'b']);
          assert.equal(reply.converged, true);
          assert.ok(reply.waited_ms >= 150, `waited ${reply.waited_ms} ms`);
          assert.deepEqual(bird.batches.slice(before), [
            ['disable "vip6_a"', 'disable "vip_a"', 'disable "vip_b"'],
          ]);
          assert.equal((await status()).draining, true);
          assert.ok(await metric('intentlb_healthd_drained 1'));
          assert.equal((await healthdControl(socket, { cmd: 'undrain' }, 5000)).ok, true);
          await eventually(() => on('vip_a', 'vip6_a', 'vip_b'), 10_000, 'back after undrain');
        });

        await t(
          'hold: answered once withdrawn, confirmed and converged; release needs fresh checks',
          async () => {
            const held = await holdVip(socket, 'a', 10_000);
            assert.ok(off('vip_a', 'vip6_a') && on('vip_b'), 'a withdrawn, b untouched');
            assert.equal(held.converged, true);
            assert.ok(held.waited_ms >= 150);
            assert.equal((await vipStatus('a'))?.held, true);
            assert.ok(await metric('intentlb_healthd_vip_held{vip="a"} 1'));
            const again = await holdVip(socket, 'a', 10_000);
            assert.equal(again.converged, false, 'already withdrawn: no convergence to wait for');
            const unknown = await healthdControl(socket, { cmd: 'hold', vip: 'zz' }, 5000);
            assert.equal(unknown.ok === false && unknown.code, 'E_UNKNOWN_VIP');

            await releaseVip(socket, 'a', 5000);
            const right = await vipStatus('a');
            assert.deepEqual([right?.held, right?.health, right?.announced], [false, 'unknown', false]);
            await eventually(() => on('vip_a', 'vip6_a'), 10_000, 'announced again after rise');
            // The hold's down hook and the release's up hook have both run: the next step's down
            // is a transition of its own (a down asked while the hold's down still runs would
            // rightly collapse into it, hooks.ts).
            await eventually(
              () => hookLines().filter((l) => l === 'a up').length >= 2,
              10_000,
              'up hook after release',
            );
          },
        );

        await t('checks failing withdraw; recovering announces after the hold-down', async () => {
          a.status.code = 503;
          await eventually(() => off('vip_a', 'vip6_a'), 10_000, 'withdrawn on fall');
          const s = await vipStatus('a');
          assert.equal(s?.health, 'down');
          assert.equal(s?.last_check?.error, 'HTTP 503');
          await eventually(() => hookLines().filter((l) => l === 'a down').length >= 2, 10_000, 'down hook');
          a.status.code = 200;
          await eventually(() => on('vip_a', 'vip6_a'), 10_000, 'back after hold-down');
          assert.ok(await metric('intentlb_healthd_transitions_total{vip="a",to="down"} 1'));
        });

        await t('the instance dying withdraws at once, while its checks still pass', async () => {
          const exited = new Promise((r) => sleeper.once('exit', r));
          sleeper.kill('SIGKILL');
          await exited;
          await eventually(() => off('vip_a', 'vip6_a'), 3000, 'withdrawn on process exit');
          assert.ok(logs.some((l) => l.msg === 'health' && l.vip === 'a' && l.reason === 'process-exit'));
          assert.equal((await vipStatus('a'))?.process, 'exited');
          sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
          writeFileSync(join(dir, 'a.pid'), `${sleeper.pid}\n`);
          await eventually(async () => (await vipStatus('a'))?.pid === sleeper.pid, 10_000, 'new pid seen');
          await eventually(() => on('vip_a', 'vip6_a'), 15_000, 'back with the new process');
        });

        await t('BIRD configure (protocols reset) is noticed by the poll and reconciled', async () => {
          bird.configure();
          await eventually(() => on('vip_a', 'vip6_a', 'vip_b'), 10_000, 're-enabled after configure');
          assert.ok(await metric('intentlb_healthd_bird_reconciles_total{reason="drift"} 1'));
          bird.configure();
          const r = await healthdControl(socket, { cmd: 'reconcile' }, 5000);
          assert.ok(r.ok, JSON.stringify(r));
          assert.ok(on('vip_a', 'vip6_a', 'vip_b'), 'reconciled when the command answers');
        });

        await t('BIRD restarting is reconnected and reconciled', async () => {
          await bird.restart();
          await eventually(() => on('vip_a', 'vip6_a', 'vip_b'), 10_000, 're-enabled after restart');
          assert.ok(await metric('intentlb_healthd_bird_reconciles_total{reason="connect"} 2'));
          assert.ok(logs.some((l) => l.msg === 'bird connection lost'));
        });

        await t('metrics: names and labels', async () => {
          // The BGP sessions come from the poll of `show protocols` (bird.poll_ms).
          await eventually(
            async () =>
              (await metric('intentlb_healthd_bgp_session_up{peer="rr1"} 1')) &&
              (await metric('intentlb_healthd_bgp_session_up{peer="rr2"} 0')),
            10_000,
            'BGP sessions: rr1 established, rr2 not',
          );
          const text = await (await fetch(`${http}/metrics`)).text();
          for (const name of [
            'intentlb_healthd_check_duration_seconds_bucket{le="0.005",result="ok"}',
            'intentlb_healthd_checks_total{vip="a",result="ok"}',
            'intentlb_healthd_vip_state{vip="a",state="up"} 1',
            'intentlb_healthd_vip_announced{vip="b"} 1',
            'intentlb_healthd_announcement_changes_total{vip="a",action="withdraw"}',
            'intentlb_healthd_bird_operations_total{result="ok"}',
            'intentlb_healthd_bird_operation_duration_seconds_count{result="ok"}',
            'intentlb_healthd_bird_connected 1',
            'intentlb_healthd_hook_runs_total{state="up",result="ok"}',
          ]) {
            assert.ok(text.includes(name), `${name} in /metrics`);
          }
          assert.equal((await fetch(`${http}/nope`)).status, 404);
        });

        await t(
          'reload: a VIP added, one removed (withdrawn, then forgotten); a broken file is refused',
          async () => {
            writeFileSync(file, config(dir, { a: a.port, b: b.port }, ['a', 'c']));
            const r = await healthdControl(socket, { cmd: 'reload' }, 5000);
            assert.deepEqual(r, { ok: true, cmd: 'reload', added: ['c'], removed: ['b'], changed: [] });
            await eventually(() => off('vip_b') && on('vip_c'), 10_000, 'b withdrawn, c announced');
            // c's up hook has run, so the hold and release of the next step are hooks of their own.
            await eventually(() => hookLines().includes('c up'), 10_000, "c's up hook");
            await eventually(
              async () => (await status()).vips.map((v) => v.name).join() === 'a,c',
              10_000,
              'b forgotten',
            );
            assert.equal(await metric('intentlb_healthd_vip_announced{vip="b"}'), false, 'b series dropped');

            writeFileSync(
              file,
              config(dir, { a: a.port, b: b.port }, ['a']).replace('"rise": 2', '"rise": "two"'),
            );
            const bad = await healthdControl(socket, { cmd: 'reload' }, 5000);
            assert.equal(bad.ok === false && bad.code, 'E_CONFIG');
            assert.deepEqual(bad.ok === false ? bad.diagnostics?.map((d) => [d.code, d.file, d.path]) : [], [
              ['E_TYPE', file, 'vips.0.rise'],
            ]);
            assert.deepEqual(
              (await status()).vips.map((v) => v.name),
              ['a', 'c'],
              'the running configuration stays',
            );
          },
        );

        await t('the CLI talks to the running daemon', async () => {
          const out: string[] = [];
          const err: string[] = [];
          const io = {
            stdout: (s: string) => out.push(s),
            stderr: (s: string) => err.push(s),
            cwd: dir,
            color: false,
            now: () => new Date(),
          };
          assert.equal(await runCli(['healthd', 'status', '--config', 'healthd.yaml'], io), 0, err.join(''));
          assert.match(out.join(''), /^a +up +yes +announced/m);
          assert.equal(await runCli(['healthd', 'status', '--format', 'json', '--config', file], io), 0);
          assert.equal((JSON.parse(out[out.length - 1]!) as HealthdStatus).node, 't1');
          assert.equal(await runCli(['healthd', 'hold', 'c', '--config', file], io), 0, err.join(''));
          assert.match(
            out[out.length - 1]!,
            /^held c: withdrawn and confirmed after \d+ ms, network converged/,
          );
          assert.ok(off('vip_c'));
          assert.equal(await runCli(['healthd', 'release', 'c', '--config', file], io), 0);
          assert.equal(await runCli(['healthd', 'hold', 'nope', '--config', file], io), 1);
          assert.match(err.join(''), /E_UNKNOWN_VIP/);
          assert.equal(await runCli(['healthd', 'status', '--socket', join(dir, 'none.sock')], io), 1);
          assert.match(err.join(''), /not running/);
          assert.equal(await runCli(['healthd', 'status'], io), 2, 'no --config: usage');
          await eventually(
            () => on('vip_c') && hookLines().filter((l) => l === 'c up').length >= 2,
            10_000,
            'c back, its up hook run',
          );
        });

        await t('shutdown withdraws every VIP before exiting', async () => {
          const before = hookLines().length;
          await d.shutdown('test');
          await d.done;
          assert.ok(off('vip_a', 'vip6_a', 'vip_b', 'vip_c'), 'nothing left announced');
          assert.equal(existsSync(socket), false, 'control socket removed');
          assert.deepEqual(hookLines().slice(before).sort(), ['a down', 'c down']);
          assert.ok(logs.some((l) => l.msg === 'withdrawn' && l.converged === true));
          assert.equal(logs[logs.length - 1]?.msg, 'stopped');
        });
      } finally {
        await daemon?.shutdown('test cleanup');
        sleeper.kill('SIGKILL');
        await bird.stop();
        a.server.close();
        b.server.close();
      }
    });
  });

  it("an operator's drain outlives a restart until undrain; a shutdown's withdraw does not", async () => {
    await withTempDir(async (dir) => {
      const bird = new FakeBird(join(dir, 'bird.ctl'), ['vip_b']);
      await bird.start();
      const b = await tcpTarget();
      const file = join(dir, 'healthd.yaml');
      const withState = JSON.parse(config(dir, { a: 1, b: b.port }, ['b'])) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...withState, state: 'state/healthd-state.json' }));
      const stateFile = join(dir, 'state/healthd-state.json');
      const socket = join(dir, 'healthd.sock');
      const logs: Record<string, unknown>[] = [];
      const start = () =>
        HealthdDaemon.start({
          configPath: file,
          log: { write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) },
          defaultMetrics: false,
          birdReconnectMaxMs: 200,
        });
      let daemon: HealthdDaemon | undefined;
      try {
        daemon = await start();
        await eventually(() => bird.enabled('vip_b') === true, 10_000, 'announced');
        // A shutdown withdraws but leaves nothing behind: the next start announces.
        await daemon.shutdown('test');
        assert.equal(existsSync(stateFile), false);
        daemon = await start();
        await eventually(() => bird.enabled('vip_b') === true, 10_000, 'announced after a plain restart');

        assert.equal((await healthdControl(socket, { cmd: 'drain' }, 10_000)).ok, true);
        assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as { drained: boolean }).drained, true);
        await daemon.shutdown('test');
        const commandsBefore = bird.commands.length;
        daemon = await start();
        // Checks pass (b is up), yet nothing is announced: the node is still drained. The decision
        // that took b up sent its BIRD operation at once; a `show protocols` poll after it, on the
        // same connection, proves that nothing was on its way.
        const d = daemon;
        await eventually(() => d.status().vips.find((v) => v.name === 'b')?.health === 'up', 10_000, 'b up');
        const upAt = bird.commands.length;
        await eventually(
          () => bird.commands.slice(upAt).includes('show protocols'),
          10_000,
          'a BIRD poll after b came up',
        );
        assert.equal(bird.enabled('vip_b'), false, 'still drained after the restart');
        assert.deepEqual(
          bird.commands.slice(commandsBefore).filter((c) => c.startsWith('enable')),
          [],
          'no enable sent',
        );
        assert.equal(d.status().vips.find((v) => v.name === 'b')?.announced, false);
        assert.ok(logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('starting drained')));
        const http = `http://127.0.0.1:${daemon.httpAddress?.port}`;
        assert.equal(((await (await fetch(`${http}/status`)).json()) as HealthdStatus).draining, true);

        assert.equal((await healthdControl(socket, { cmd: 'undrain' }, 5000)).ok, true);
        assert.deepEqual(JSON.parse(readFileSync(stateFile, 'utf8')), { drained: false });
        await eventually(() => bird.enabled('vip_b') === true, 10_000, 'announced after undrain');
        await daemon.shutdown('test');
        daemon = await start();
        await eventually(() => bird.enabled('vip_b') === true, 10_000, 'announced after the next restart');
      } finally {
        await daemon?.shutdown('test cleanup');
        await bird.stop();
        b.server.close();
      }
    });
  });

  it('refuses to start on a bad configuration, naming file, line and field', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'healthd.yaml');
      writeFileSync(file, config(dir, { a: 1, b: 2 }, ['a']).replace('"fall": 2', '"fall": 0'));
      await assert.rejects(
        HealthdDaemon.start({ configPath: file, log: { write: () => {} } }),
        (e: unknown) => {
          assert.ok(e instanceof HealthdConfigError);
          assert.deepEqual(
            e.diagnostics.map((d) => [d.code, d.file, d.path]),
            [['E_TYPE', file, 'vips.0.fall']],
          );
          assert.equal(e.sources.get(file)?.includes('"fall": 0'), true, 'the text for code frames');
          return true;
        },
      );
      const err: string[] = [];
      const io = {
        stdout: () => {},
        stderr: (s: string) => err.push(s),
        cwd: dir,
        color: false,
        now: () => new Date(),
      };
      assert.equal(await runCli(['healthd', '--config', 'healthd.yaml'], io), 1);
      // As `intentlb check` prints a site's: position, severity, code, then the code frame's caret.
      assert.match(
        err.join(''),
        /healthd\.yaml:\d+:\d+ error E_TYPE `vips\.0\.fall`[\s\S]*\n> +\d+ \| +"fall": 0,\n +\| +\^/,
      );
      assert.match(err.join(''), /^1 error, 0 warnings$/m);
    });
  });
});

/** A named step inside one long-running scenario; its name shows in the failure. */
async function t(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof Error) err.message = `${name}: ${err.message}`;
    throw err;
  }
}
