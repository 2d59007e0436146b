import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireTool, withTempDir } from '../helpers/tools.ts';

// examples/failover/aws-eip against a fake `aws` first on PATH, which records each argv (one JSON
// line per call) and answers `describe-addresses` from FAKE_AWS_HELD. No cloud is reachable here:
// this shows what the script asks of the CLI, not that AWS accepts it.
const SCRIPT = new URL('../../examples/failover/aws-eip', import.meta.url).pathname;

const FAKE_AWS = `#!/bin/sh
node -e 'require("node:fs").appendFileSync(process.env.FAKE_AWS_LOG, JSON.stringify(process.argv.slice(1)) + "\\n")' -- "$@"
case " $* " in *" describe-addresses "*) echo "$FAKE_AWS_HELD" ;; esac
[ -z "\${FAKE_AWS_FAIL:-}" ] || { echo "An error occurred (RequestLimitExceeded)" >&2; exit 255; }
`;

const CONF = `# elastic IPs of the VIPs, instances of the nodes
region eu-central-1
vip web-www eipalloc-0aaa
instance lb1 i-0111
instance lb2 i-0222
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  calls: string[][];
}

async function run(dir: string, action: string, env: Record<string, string>, conf = CONF): Promise<Run> {
  const script = join(dir, 'aws-eip');
  copyFileSync(SCRIPT, script);
  writeFileSync(join(dir, 'aws-eip.conf'), conf);
  const bin = join(dir, 'bin');
  writeFileSync(join(dir, 'calls.log'), '');
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      script,
      [action, env.INTENTLB_VIP ?? '', action === 'promote' ? 'up' : 'down'],
      {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          FAKE_AWS_LOG: join(dir, 'calls.log'),
          ...env,
        },
      },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    ),
  );
  const calls = readFileSync(join(dir, 'calls.log'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as string[]);
  return { ...r, calls };
}

function fakeAws(dir: string): void {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'aws'), FAKE_AWS);
  chmodSync(join(bin, 'aws'), 0o755);
}

describe('examples/failover/aws-eip against a fake aws CLI', () => {
  it('promote associates the VIP elastic IP with this node, allowing reassociation', async () => {
    requireTool('sh');
    await withTempDir(async (dir) => {
      fakeAws(dir);
      const r = await run(dir, 'promote', { INTENTLB_VIP: 'web-www', INTENTLB_NODE: 'lb2' });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.calls, [
        [
          '--output',
          'text',
          '--region',
          'eu-central-1',
          'ec2',
          'associate-address',
          '--allocation-id',
          'eipalloc-0aaa',
          '--instance-id',
          'i-0222',
          '--allow-reassociation',
        ],
      ]);
    });
  });

  it('demote releases the elastic IP only while this node still holds it', async () => {
    await withTempDir(async (dir) => {
      fakeAws(dir);
      const ours = await run(dir, 'demote', {
        INTENTLB_VIP: 'web-www',
        INTENTLB_NODE: 'lb1',
        FAKE_AWS_HELD: 'eipassoc-0123\ti-0111\teni-0999',
      });
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(
        ours.calls.map((c) => c.slice(4, 6)),
        [
          ['ec2', 'describe-addresses'],
          ['ec2', 'disassociate-address'],
        ],
      );
      assert.deepEqual(ours.calls[1]!.slice(6), ['--association-id', 'eipassoc-0123']);

      // lb2 took it over already: a late demote on lb1 leaves it alone.
      const theirs = await run(dir, 'demote', {
        INTENTLB_VIP: 'web-www',
        INTENTLB_NODE: 'lb1',
        FAKE_AWS_HELD: 'eipassoc-0456\ti-0222\teni-0888',
      });
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.deepEqual(
        theirs.calls.map((c) => c[5]),
        ['describe-addresses'],
      );
    });
  });

  it('a failing CLI call fails the script (healthd retries it); a VIP without an EIP is left alone', async () => {
    await withTempDir(async (dir) => {
      fakeAws(dir);
      const failed = await run(dir, 'promote', {
        INTENTLB_VIP: 'web-www',
        INTENTLB_NODE: 'lb1',
        FAKE_AWS_FAIL: '1',
      });
      assert.notEqual(failed.code, 0);
      assert.equal(failed.calls.length, 1);

      const none = await run(dir, 'promote', { INTENTLB_VIP: 'other', INTENTLB_NODE: 'lb1' });
      assert.equal(none.code, 0, none.stderr);
      assert.deepEqual(none.calls, []);

      const unknownNode = await run(dir, 'promote', { INTENTLB_VIP: 'web-www', INTENTLB_NODE: 'lb9' });
      assert.equal(unknownNode.code, 1);
      assert.deepEqual(unknownNode.calls, []);

      const usage = await run(dir, 'start', { INTENTLB_VIP: 'web-www', INTENTLB_NODE: 'lb1' });
      assert.equal(usage.code, 64);
    });
  });
});
