import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from '../../src/build/run-tool.ts';

/**
 * Absolute path of a system tool the test needs. A missing tool is a test failure, never a skip:
 * `scripts/install-system-deps.sh` installs every one of them.
 */
export function requireTool(name: string): string {
  const path = findTool(name);
  if (path === undefined) {
    throw new Error(
      `${name} is not installed: run scripts/install-system-deps.sh (tests never skip a missing tool)`,
    );
  }
  return path;
}

/** Root is needed for network namespaces; not having it is a failure too. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new Error('this test needs root (network namespaces); run the suite as root');
}

/** A temporary directory removed after `fn`, whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'intentlb-test-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
