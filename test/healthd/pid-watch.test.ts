import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type PidStep,
  PidWatcher,
  type PidWatcherOptions,
  pidAlive,
  pidStep,
  readPidFile,
} from '../../src/healthd/pid-watch.ts';
import { systemTimers } from '../../src/healthd/timers.ts';
import type { VipConfig } from '../../src/healthd/types.ts';
import { withTempDir } from '../helpers/tools.ts';
import { FakeClock } from './fake-clock.ts';

function vip(name: string, pidfile: string | undefined): VipConfig {
  return {
    name,
    prefixes: [],
    protocols: [],
    check: { kind: 'tcp', address: '127.0.0.1', port: 1 },
    intervalMs: 1000,
    timeoutMs: 500,
    rise: 1,
    fall: 1,
    holdDownMs: 0,
    ...(pidfile === undefined ? {} : { pidfile }),
  };
}

describe('pid watch: the rule', () => {
  // [from, observed pid, alive] → expected step
  const table: [PidStep['status'], number | undefined, number | undefined, boolean, PidStep][] = [
    ['unknown', undefined, 10, true, { status: 'running', pid: 10, event: 'process-start' }],
    ['unknown', undefined, undefined, false, { status: 'exited', pid: undefined, event: 'process-exit' }],
    ['unknown', undefined, 10, false, { status: 'exited', pid: 10, event: 'process-exit' }],
    ['running', 10, 10, true, { status: 'running', pid: 10 }],
    ['running', 10, 10, false, { status: 'exited', pid: 10, event: 'process-exit' }],
    ['running', 10, 11, true, { status: 'running', pid: 11, event: 'process-start' }],
    ['running', 10, undefined, false, { status: 'exited', pid: undefined, event: 'process-exit' }],
    ['exited', 10, 10, false, { status: 'exited', pid: 10 }],
    ['exited', 10, 11, true, { status: 'running', pid: 11, event: 'process-start' }],
    ['exited', 10, undefined, false, { status: 'exited', pid: undefined }],
  ];
  for (const [status, pid, obsPid, alive, expected] of table) {
    it(`${status} pid ${pid} sees ${obsPid} ${alive ? 'alive' : 'dead'} → ${expected.event ?? 'no event'}`, () => {
      assert.deepEqual(pidStep({ status, pid }, { pid: obsPid, alive }), expected);
    });
  }
});

/** A watcher probing every 100 ms and re-reading pid files every second. */
function watcher(
  clock: FakeClock,
  readPid: NonNullable<PidWatcherOptions['readPid']>,
  alive: NonNullable<PidWatcherOptions['alive']>,
  onEvent: PidWatcherOptions['onEvent'],
): PidWatcher {
  return new PidWatcher({ timers: clock, intervalMs: 100, rereadMs: 1000, readPid, alive, onEvent });
}

describe('pid watch: the watcher', () => {
  it('reports death within one probe period and a new pid at the next read', async () => {
    const clock = new FakeClock();
    const files = new Map<string, number | undefined>([['/run/a.pid', 100]]);
    const alive = new Set([100]);
    const events: string[] = [];
    const w = watcher(
      clock,
      async (p) => files.get(p),
      (pid) => alive.has(pid),
      (v, e, pid) => events.push(`${clock.now()} ${v} ${e} ${pid}`),
    );
    w.update([vip('a', '/run/a.pid'), vip('nopid', undefined)]);
    await clock.advance(0);
    assert.deepEqual(events, ['0 a process-start 100']);
    assert.deepEqual(w.status('a'), { status: 'running', pid: 100 });
    assert.equal(w.status('nopid'), undefined);

    await clock.advance(250);
    alive.delete(100);
    await clock.advance(100);
    assert.deepEqual(events.slice(1), ['300 a process-exit 100'], 'noticed at the next 100 ms probe');

    // The stale pid file keeps the dead pid: no more events until a new process writes it.
    await clock.advance(2000);
    assert.equal(events.length, 2);
    files.set('/run/a.pid', 200);
    alive.add(200);
    await clock.advance(1000);
    assert.equal(events[2]?.endsWith('a process-start 200'), true, events.join('\n'));

    // A restart between two probes (new pid, old one gone) is a start of the new process.
    alive.delete(200);
    files.set('/run/a.pid', 300);
    alive.add(300);
    await clock.advance(1100);
    assert.deepEqual(
      events.slice(3).map((e) => e.split(' ').slice(1).join(' ')),
      ['a process-exit 200', 'a process-start 300'],
    );

    w.update([]);
    alive.delete(300);
    await clock.advance(2000);
    assert.equal(events.length, 5, 'no events for a VIP no longer watched');
    w.stop();
    assert.equal(clock.timers, 0);
  });

  it('a pid read that cannot be taken in is reported, and the file is read again', async () => {
    const clock = new FakeClock();
    const events: string[] = [];
    const errors: string[] = [];
    let calls = 0;
    const w = new PidWatcher({
      timers: clock,
      intervalMs: 100,
      rereadMs: 1000,
      readPid: async () => 100,
      alive: () => true,
      onEvent: (v, e, pid) => {
        if (++calls === 1) throw new Error('bug in onEvent');
        events.push(`${clock.now()} ${v} ${e} ${pid}`);
      },
      onError: (err) => errors.push(err instanceof Error ? err.message : String(err)),
    });
    w.update([vip('a', '/run/a.pid')]);
    await clock.advance(0);
    assert.deepEqual(errors, ['bug in onEvent']);
    await clock.advance(1000);
    assert.deepEqual(events, ['1000 a process-start 100'], 'read again a second later');
    w.stop();
  });

  it('VIPs of one instance share its pid file: one read and one probe per tick, events for each VIP', async () => {
    const clock = new FakeClock();
    let reads = 0;
    let probes = 0;
    const alive = new Set([100]);
    const events: string[] = [];
    const w = watcher(
      clock,
      (p) => {
        reads++;
        return p === '/run/single.pid' ? 100 : undefined;
      },
      (pid) => {
        probes++;
        return alive.has(pid);
      },
      (v, e, pid) => events.push(`${v} ${e} ${pid}`),
    );
    w.update([vip('a', '/run/single.pid'), vip('b', '/run/single.pid'), vip('c', '/run/single.pid')]);
    await clock.advance(0);
    [reads, probes] = [0, 0];
    await clock.advance(1000);
    assert.equal(probes, 10, 'one probe per 100 ms tick for the three VIPs');
    assert.equal(reads, 0, 'a running process is probed, its file not re-read');
    alive.delete(100);
    await clock.advance(100);
    assert.deepEqual(events.slice(3), ['a process-exit 100', 'b process-exit 100', 'c process-exit 100']);
    assert.equal(reads, 1, 're-read at once after the death');
    // A VIP added to the instance is told what is known of its process at once.
    w.update([
      vip('a', '/run/single.pid'),
      vip('b', '/run/single.pid'),
      vip('c', '/run/single.pid'),
      vip('d', '/run/single.pid'),
    ]);
    assert.deepEqual(events.slice(6), ['d process-exit 100']);
    alive.add(100);
    await clock.advance(1000);
    assert.deepEqual(events.slice(7), [
      'a process-start 100',
      'b process-start 100',
      'c process-start 100',
      'd process-start 100',
    ]);
    // Dropping three VIPs keeps watching the file for the fourth.
    w.update([vip('d', '/run/single.pid')]);
    alive.delete(100);
    await clock.advance(100);
    assert.deepEqual(events.slice(11), ['d process-exit 100']);
    w.stop();
  });

  it('the file of a running process is re-read every verifyMs, so a changed pid is still seen', async () => {
    const clock = new FakeClock();
    const files = new Map<string, number>([['/run/a.pid', 100]]);
    let reads = 0;
    const events: string[] = [];
    const w = new PidWatcher({
      timers: clock,
      readPid: (p) => {
        reads++;
        return files.get(p);
      },
      alive: () => true,
      onEvent: (v, e, pid) => events.push(`${clock.now()} ${v} ${e} ${pid}`),
    });
    w.update([vip('a', '/run/a.pid')]);
    await clock.advance(0);
    files.set('/run/a.pid', 101); // both alive: e.g. a pid file rewritten by hand
    await clock.advance(9_000);
    assert.equal(reads, 1);
    await clock.advance(1_100);
    assert.equal(reads, 2);
    assert.deepEqual(events, ['0 a process-start 100', '10000 a process-start 101']);
    w.stop();
  });

  it('a missing pid file is an exited process', async () => {
    const clock = new FakeClock();
    const events: string[] = [];
    const w = new PidWatcher({
      timers: clock,
      readPid: async () => undefined,
      alive: () => true,
      onEvent: (v, e) => events.push(`${v} ${e}`),
    });
    w.update([vip('a', '/nope.pid')]);
    await clock.advance(5000);
    assert.deepEqual(events, ['a process-exit']);
    w.stop();
  });

  it('real processes: a killed child is noticed within a few probes', { timeout: 20_000 }, async () => {
    await withTempDir(async (dir) => {
      const pidfile = join(dir, 'a.pid');
      const child = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        assert.ok(child.pid);
        writeFileSync(pidfile, `${child.pid}\n`);
        assert.equal(await readPidFile(pidfile), child.pid);
        assert.equal(pidAlive(child.pid), true);
        const seen: { event: string; at: number }[] = [];
        const w = new PidWatcher({
          timers: systemTimers,
          intervalMs: 50,
          onEvent: (_v, event) => seen.push({ event, at: performance.now() }),
        });
        w.update([vip('a', pidfile)]);
        const until = async (n: number) => {
          for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 25));
        };
        await until(1);
        assert.equal(seen[0]?.event, 'process-start');
        const exited = new Promise((r) => child.once('exit', r));
        const killedAt = performance.now();
        child.kill('SIGKILL');
        await exited;
        await until(2);
        w.stop();
        assert.equal(seen[1]?.event, 'process-exit');
        assert.ok(seen[1]!.at - killedAt < 2000, `noticed after ${Math.round(seen[1]!.at - killedAt)} ms`);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  it('readPidFile: first pid of the file; junk and pid 1 are none', async () => {
    await withTempDir(async (dir) => {
      const f = join(dir, 'p');
      const cases: [string, number | undefined][] = [
        ['1234\n', 1234],
        ['1234\n5678\n', 1234],
        ['  42  ', 42],
        ['', undefined],
        ['abc\n', undefined],
        ['1\n', undefined],
        ['-5\n', undefined],
        ['99999999999\n', undefined],
      ];
      for (const [text, pid] of cases) {
        writeFileSync(f, text);
        assert.equal(await readPidFile(f), pid, JSON.stringify(text));
      }
      assert.equal(await readPidFile(join(dir, 'missing')), undefined);
    });
  });
});
