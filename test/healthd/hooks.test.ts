import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HooksConfig } from '../../src/healthd/config.ts';
import {
  type HookOutcome,
  HookRunner,
  type RunCommand,
  spawnCommand,
  spawnCommandOn,
} from '../../src/healthd/hooks.ts';
import { withTempDir } from '../helpers/tools.ts';
import { FakeClock } from './fake-clock.ts';

const NODE = process.execPath;

/** A runner whose commands finish when the test says so. */
function controlled() {
  const started: string[] = [];
  const finishers: (() => void)[] = [];
  const run: RunCommand = (argv) => {
    started.push(argv.join(' '));
    return new Promise((resolve) => {
      finishers.push(() => resolve({ result: 'ok', exitCode: 0, signal: null, durationMs: 1, output: '' }));
    });
  };
  const finishNext = async () => {
    finishers.shift()?.();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return {
    run,
    started,
    finishNext,
    get waiting() {
      return finishers.length;
    },
  };
}

const HOOKS: HooksConfig = { onUp: [['up-a'], ['up-b', '--x']], onDown: [['down']], timeoutMs: 1000 };

describe('hooks: ordering per VIP', () => {
  it('runs every command of a transition in order, with the VIP and state appended', async () => {
    const c = controlled();
    const outcomes: HookOutcome[] = [];
    const r = new HookRunner({ config: HOOKS, run: c.run, onOutcome: (o) => outcomes.push(o) });
    r.run('web', 'up');
    assert.deepEqual(c.started, ['up-a web up']);
    await c.finishNext();
    assert.deepEqual(c.started, ['up-a web up', 'up-b --x web up']);
    await c.finishNext();
    assert.equal(r.busy, 0);
    assert.deepEqual(
      outcomes.map((o) => [o.vip, o.state, o.command.join(' '), o.result]),
      [
        ['web', 'up', 'up-a web up', 'ok'],
        ['web', 'up', 'up-b --x web up', 'ok'],
      ],
    );
  });

  it("an outcome handler that throws is reported, and the VIP's hooks go on", async () => {
    const c = controlled();
    const errors: unknown[] = [];
    let calls = 0;
    const r = new HookRunner({
      config: HOOKS,
      run: c.run,
      onOutcome: () => {
        if (++calls === 1) throw new Error('bug in onOutcome');
      },
      onError: (err) => errors.push(err),
    });
    r.run('web', 'up');
    await c.finishNext();
    assert.equal(errors.length, 1);
    assert.deepEqual(c.started, ['up-a web up', 'up-b --x web up'], 'the next command ran');
    await c.finishNext();
    assert.equal(r.busy, 0, 'the lane is free again');
    r.run('web', 'down');
    assert.deepEqual(c.started.slice(2), ['down web down']);
    await c.finishNext();
  });

  it('one transition at a time per VIP; while one runs only the latest wish waits', async () => {
    const c = controlled();
    const r = new HookRunner({ config: HOOKS, run: c.run, onOutcome: () => {} });
    r.run('web', 'up');
    r.run('db', 'down'); // another VIP runs beside it
    assert.deepEqual(c.started, ['up-a web up', 'down db down']);
    r.run('web', 'down');
    r.run('web', 'up');
    r.run('web', 'down'); // down-up-down while up runs: down is all that is left to do
    assert.equal(c.started.length, 2);
    await c.finishNext(); // up-a web
    await c.finishNext(); // down db
    assert.deepEqual(c.started.slice(2), ['up-b --x web up']);
    await c.finishNext();
    assert.deepEqual(c.started.slice(3), ['down web down']);
    await c.finishNext();
    assert.equal(r.busy, 0);

    r.run('web', 'up');
    r.run('web', 'down');
    r.run('web', 'up'); // back to what runs: nothing more to do
    await c.finishNext();
    await c.finishNext();
    assert.deepEqual(c.started.slice(4), ['up-a web up', 'up-b --x web up']);
    assert.equal(r.busy, 0);
  });

  it('idle() waits for queued transitions; no commands configured runs nothing', async () => {
    const c = controlled();
    const r = new HookRunner({ config: HOOKS, run: c.run, onOutcome: () => {} });
    await r.idle();
    r.run('web', 'up');
    r.run('web', 'down');
    let idle = false;
    void r.idle().then(() => {
      idle = true;
    });
    for (let i = 0; i < 2; i++) await c.finishNext();
    assert.equal(idle, false);
    await c.finishNext();
    assert.equal(idle, true);

    const none = new HookRunner({
      config: { onUp: [], onDown: [], timeoutMs: 10 },
      run: c.run,
      onOutcome: () => {},
    });
    none.run('web', 'up');
    assert.equal(none.busy, 0);
  });
});

describe('hooks: spawning', { timeout: 30_000 }, () => {
  it('no shell: arguments and environment as given; exit codes judged', async () => {
    await withTempDir(async (dir) => {
      const out = join(dir, 'out');
      const script =
        'require("fs").appendFileSync(process.argv[1], JSON.stringify({argv: process.argv.slice(2), ' +
        'vip: process.env.INTENTLB_VIP, state: process.env.INTENTLB_STATE, prefixes: process.env.INTENTLB_PREFIXES}) + "\\n")';
      const ok = await spawnCommand(
        [NODE, '-e', script, out, '$(touch x) ; `id`', 'web', 'up'],
        {
          INTENTLB_VIP: 'web',
          INTENTLB_STATE: 'up',
          INTENTLB_PREFIXES: '198.18.100.10/32',
        },
        10_000,
      );
      assert.equal(ok.result, 'ok');
      assert.equal(ok.exitCode, 0);
      assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), {
        argv: ['$(touch x) ; `id`', 'web', 'up'],
        vip: 'web',
        state: 'up',
        prefixes: '198.18.100.10/32',
      });

      const failed = await spawnCommand(
        [NODE, '-e', 'console.error("no route"); process.exit(3)'],
        {},
        10_000,
      );
      assert.deepEqual([failed.result, failed.exitCode, failed.output], ['failed', 3, 'no route']);

      const missing = await spawnCommand([join(dir, 'does-not-exist')], {}, 10_000);
      assert.equal(missing.result, 'failed');
      assert.match(missing.error ?? '', /ENOENT/);
    });
  });

  it('a command outliving timeout_ms is killed and reported', async () => {
    const began = performance.now();
    const slow = await spawnCommand([NODE, '-e', 'setTimeout(() => {}, 60000)'], {}, 300);
    assert.equal(slow.result, 'timeout');
    assert.equal(slow.signal, 'SIGKILL');
    assert.ok(performance.now() - began < 10_000);
  });

  it('the deadline is on the injected clock: killed when the fake clock reaches it, not before', async () => {
    const clock = new FakeClock();
    const run = spawnCommandOn(clock)([NODE, '-e', 'setTimeout(() => {}, 60000)'], {}, 300);
    let settled = false;
    void run.then(() => {
      settled = true;
    });
    await clock.advance(299);
    assert.equal(settled, false, 'still running at 299 ms');
    await clock.advance(1);
    const slow = await run;
    assert.deepEqual([slow.result, slow.signal, slow.durationMs], ['timeout', 'SIGKILL', 300]);
  });
});
