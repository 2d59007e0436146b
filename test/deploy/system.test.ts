import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addNamespace, deleteNamespace, nsExec, uniqueName } from '../../src/lab/netns.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

// apply's VIP addresses on `lo` are idempotent whatever words the kernel uses: 6.x kernels answer
// "Address already assigned" / "Address not found" where older ones said "File exists" / "Cannot
// assign requested address" (found under a booted systemd: a re-apply after a restart failed).
const ROOT = new URL('../../', import.meta.url).pathname;
const SCRIPT = `
import { addAddress, removeAddress } from '${ROOT}src/deploy/system.ts';
for (const step of process.argv.filter((a) => /^(add|del),/.test(a))) {
  const [op, address] = step.split(/,/);
  try {
    await (op === 'add' ? addAddress(address) : removeAddress(address));
    console.log('ok');
  } catch (e) {
    console.log('failed', e.constructor.name);
  }
}
`;

describe('VIP addresses on lo', () => {
  const ns = uniqueName('ilbd');
  /** Runs `add,<address>` / `del,<address>` steps in order in the namespace; one answer per step. */
  const run = (...steps: string[]): string[] =>
    nsExec(ns, process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', ...steps])
      .trim()
      .split('\n');
  const onLo = (): string => nsExec(ns, 'ip', ['-o', 'addr', 'show', 'dev', 'lo']);

  before(() => {
    requireRoot();
    requireTool('ip');
    addNamespace(ns);
  });
  after(() => deleteNamespace(ns));

  it('adding an address twice, and removing one twice, both succeed', () => {
    const v4 = '198.18.50.10';
    const v6 = '2001:db8:50::10';
    assert.deepEqual(run(`add,${v4}`, `add,${v4}`, `add,${v6}`, `add,${v6}`), ['ok', 'ok', 'ok', 'ok']);
    assert.match(onLo(), /198\.18\.50\.10\/32/);
    assert.match(onLo(), /2001:db8:50::10\/128/);
    assert.deepEqual(run(`del,${v4}`, `del,${v4}`, `del,${v6}`, `del,${v6}`), ['ok', 'ok', 'ok', 'ok']);
    assert.doesNotMatch(onLo(), /198\.18\.50\.10|2001:db8:50::10/);
  });

  it('a real failure still fails (an address ip refuses)', () => {
    assert.deepEqual(run('add,198.18.50.300', 'del,198.18.50.300'), [
      'failed ActionError',
      'failed ActionError',
    ]);
  });
});
