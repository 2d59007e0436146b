import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type ToolResult,
  validateBird,
  validateIcinga,
  validateKeepalived,
  validateNft,
} from '../../src/build/validate-tools.ts';
import { requireRoot, requireTool, withTempDir } from '../helpers/tools.ts';

/** The validators must reject broken input, or a passing golden test would prove nothing. */
async function check(validate: (file: string) => Promise<ToolResult>, content: string): Promise<ToolResult> {
  return withTempDir(async (dir) => {
    const file = join(dir, 'config');
    writeFileSync(file, content);
    return validate(file);
  });
}

function namespaces(): string[] {
  return execFileSync(requireTool('ip'), ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n !== '');
}

describe('validators', () => {
  it('nft: accepts a table, rejects a syntax error, and removes its namespace', async () => {
    requireTool('nft');
    requireRoot();
    // A prefix of this test's own, so namespaces of tests running concurrently do not count.
    const prefix = `intentlb-vt${process.pid}`;
    const nft = (file: string) => validateNft(file, prefix);
    const good = await check(
      nft,
      'table inet intentlb {\n  chain input {\n    type filter hook input priority filter; policy drop;\n  }\n}\n',
    );
    assert.ok(good.ok, good.output);
    const bad = await check(
      nft,
      'table inet intentlb {\n  chain input {\n    tcp dport nonsense accept\n  }\n}\n',
    );
    assert.equal(bad.ok, false);
    assert.match(bad.output, /Error/);
    assert.deepEqual(
      namespaces().filter((n) => n.startsWith(prefix)),
      [],
    );
  });

  it('bird: rejects an unknown keyword', async () => {
    requireTool('bird');
    const good = await check(validateBird, 'router id 192.0.2.1;\nprotocol device {\n}\n');
    assert.ok(good.ok, good.output);
    const bad = await check(validateBird, 'router id 192.0.2.1;\nprotocol device {\n  nonsense;\n}\n');
    assert.equal(bad.ok, false);
  });

  it('keepalived: rejects a router id past 255 and a missing file', async () => {
    requireTool('keepalived');
    requireRoot();
    const instance = (id: number): string =>
      `vrrp_instance a {\n  state BACKUP\n  interface lbtest0\n  virtual_router_id ${id}\n  priority 100\n  virtual_ipaddress {\n    192.0.2.10/32\n  }\n}\n`;
    // lbtest0 exists only in the validator's namespace.
    const good = await check(validateKeepalived, instance(51));
    assert.ok(good.ok, good.output);
    const bad = await check(validateKeepalived, instance(300));
    assert.equal(bad.ok, false);
    const missing = await validateKeepalived('/nonexistent/keepalived.conf');
    assert.equal(missing.ok, false);
  });

  it('icinga2: rejects an unknown attribute and a dangling host reference', async () => {
    requireTool('icinga2');
    const good = await check(
      validateIcinga,
      'object Host "a" {\n  check_command = "hostalive"\n  address = "192.0.2.1"\n}\n',
    );
    assert.ok(good.ok, good.output);
    const bad = await check(
      validateIcinga,
      'object Host "a" {\n  check_command = "hostalive"\n  nonsense = 1\n}\n',
    );
    assert.equal(bad.ok, false);
    assert.match(bad.output, /nonsense/);
    const dangling = await check(
      validateIcinga,
      'object Service "s" {\n  host_name = "nohost"\n  check_command = "tcp"\n}\n',
    );
    assert.equal(dangling.ok, false);
  });
});
