import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { processIo } from '../../src/cli/io.ts';
import { runProgram } from '../../src/cli/runner.ts';
import { OperationError } from '../../src/deploy/errors.ts';
import { rootLayout } from '../../src/deploy/store.ts';
import { Supervisor } from '../../src/deploy/supervisor.ts';
import { EXIT, IntentlbError, isMissing, UsageError } from '../../src/errors.ts';
import { setBackendMode } from '../../src/lab/backend-control.ts';
import { LabError } from '../../src/lab/errors.ts';
import { readState, statePath } from '../../src/lab/state.ts';
import { cli } from '../helpers/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'intentlb-errors-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a one-command program whose action throws `thrown`. */
async function throwing(thrown: unknown, debug: boolean) {
  let stderr = '';
  const code = await runProgram(
    ['boom'],
    {
      stdout: () => {},
      stderr: (s) => {
        stderr += s;
      },
      cwd: scratch,
      color: false,
      now: () => new Date(),
      debug,
    },
    (program) => {
      program.command('boom').action(() => {
        throw thrown;
      });
    },
  );
  return { code, stderr };
}

const STACK_LINE = /^\s+at .+[:(]/m;

describe('the error model', () => {
  it('every operator-facing class is an IntentlbError with its exit code', () => {
    assert.equal(new UsageError('x').exitCode, EXIT.usage);
    for (const e of [new OperationError('x'), new LabError('x'), new IntentlbError('x')]) {
      assert.ok(e instanceof IntentlbError);
      assert.equal(e.exitCode, EXIT.failed);
    }
    assert.equal(new LabError('x').name, 'LabError');
  });

  it('an operator error prints its message and its exit code, never a stack', async () => {
    const inner = new Error('EACCES: permission denied');
    const r = await throwing(new OperationError('cannot take the lock', { cause: inner }), false);
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.stderr, 'intentlb: cannot take the lock\n');
    assert.equal((await throwing(new UsageError('bad flag'), false)).code, EXIT.usage);
  });

  it('a bug is "internal error", exit 70, one line without INTENTLB_DEBUG', async () => {
    const r = await throwing(new TypeError('x is undefined'), false);
    assert.equal(r.code, EXIT.internal);
    assert.equal(r.stderr, 'intentlb: internal error: x is undefined\n');
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });

  it('INTENTLB_DEBUG=1 adds the stack, and the stack of each cause', async () => {
    const bug = await throwing(new TypeError('x is undefined'), true);
    assert.equal(bug.code, EXIT.internal);
    assert.match(bug.stderr, /^intentlb: internal error: x is undefined\nTypeError: x is undefined\n/);
    assert.match(bug.stderr, STACK_LINE);

    const wrapped = new OperationError('cannot take the lock', { cause: new Error('EACCES') });
    const op = await throwing(wrapped, true);
    assert.equal(op.code, EXIT.failed);
    assert.match(op.stderr, /^caused by: Error: EACCES$/m);
    assert.match(op.stderr, STACK_LINE);
  });

  it('a thrown non-Error is an internal error too', async () => {
    const r = await throwing('a string', false);
    assert.equal(r.code, EXIT.internal);
    assert.equal(r.stderr, 'intentlb: internal error: a string\n');
  });

  it('the real process reads INTENTLB_DEBUG', () => {
    const before = process.env.INTENTLB_DEBUG;
    try {
      process.env.INTENTLB_DEBUG = '1';
      assert.equal(processIo().debug, true);
      delete process.env.INTENTLB_DEBUG;
      assert.equal(processIo().debug, false);
    } finally {
      if (before === undefined) delete process.env.INTENTLB_DEBUG;
      else process.env.INTENTLB_DEBUG = before;
    }
  });

  it('isMissing tells ENOENT from other failures', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(isMissing(err('ENOENT')), true);
    assert.equal(isMissing(err('EACCES')), false);
    assert.equal(isMissing(new Error('plain')), false);
    assert.equal(isMissing(undefined), false);
  });
});

describe('a second intentlb supervise', () => {
  it('ends with an operator error and exit 1 while one runs', async () => {
    const root = join(scratch, 'node');
    const first = new Supervisor({ layout: rootLayout(root), log: () => {} });
    await first.listen();
    try {
      const r = await cli(['supervise', '--root', root]);
      assert.equal(r.code, EXIT.failed, r.stderr);
      assert.match(r.stderr, /^intentlb: a supervisor already runs .*supervisor\.sock\n$/);
      assert.doesNotMatch(r.stderr, /internal error/);
    } finally {
      await first.close();
    }
  });
});

describe('rewraps keep their cause', () => {
  it('lab mode on a backend that does not answer: a LabError whose cause is the socket error', async () => {
    const dir = join(scratch, 'lab-mode');
    const err = await setBackendMode(dir, 'app1', 'fail503').then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof LabError);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
  });

  it('a lab state that cannot be read (not missing) is a LabError with its cause, not "no lab"', () => {
    const dir = join(scratch, 'lab-state');
    mkdirSync(statePath(dir), { recursive: true }); // a folder where the file should be
    assert.throws(
      () => readState(dir),
      (e: unknown) =>
        e instanceof LabError && (e.cause as NodeJS.ErrnoException).code === 'EISDIR' && e.exitCode === 1,
    );
    assert.equal(readState(join(scratch, 'no-lab')), undefined);
  });
});
