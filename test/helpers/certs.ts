import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedArgs } from '../../src/lab/backend/tls.ts';

const cache = new Map<string, string>();

/**
 * A self-signed EC certificate bundle (certificate + private key, one PEM) whose SAN lists
 * `names`, valid for `days` from now. Made with `openssl` once per names/days per test run.
 */
export function certBundle(names: readonly string[], days = 365): string {
  const key = `${names.join(',')}|${days}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const dir = mkdtempSync(join(tmpdir(), 'intentlb-cert-'));
  try {
    execFileSync(
      'openssl',
      selfSignedArgs({
        cn: names[0]!,
        san: names.map((n) => `DNS:${n}`).join(','),
        days,
        keyFile: join(dir, 'key.pem'),
        certFile: join(dir, 'cert.pem'),
      }),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const pem = readFileSync(join(dir, 'cert.pem'), 'utf8') + readFileSync(join(dir, 'key.pem'), 'utf8');
    cache.set(key, pem);
    return pem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The certificate part of a bundle only (no key): a bundle `E_CERT_INVALID` rejects. */
export function certOnly(bundle: string): string {
  const end = '-----END CERTIFICATE-----';
  return bundle.slice(0, bundle.indexOf(end) + end.length) + '\n';
}
