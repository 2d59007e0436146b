/**
 * TLS material for `:tls` ports: given PEM files, or a self-signed certificate made with `openssl`
 * at start. The key never outlives the process on disk: the temporary directory is removed as soon
 * as the files are read back.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate (chain) and its private key. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** Reads a certificate and key from PEM files. */
export async function readTlsMaterial(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key };
}

/**
 * A fresh self-signed certificate (P-256, valid 7 days) for `host`, with the host name and the given
 * addresses as subject alternative names. Needs `openssl` on the PATH.
 */
export async function generateSelfSigned(host: string, addresses: readonly string[]): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'intentlb-lab-tls-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const dnsName = /^[A-Za-z0-9.-]+$/.test(host) ? host : 'intentlb-lab';
    const ips = [...new Set(addresses)].filter((a) => isIP(a) !== 0 && a !== '0.0.0.0' && a !== '::');
    const san = [`DNS:${dnsName}`, ...ips.map((a) => `IP:${a}`)].join(',');
    await run('openssl', selfSignedArgs({ cn: dnsName, san, days: 7, keyFile, certFile }), {
      timeout: 30_000,
    });
    return await readTlsMaterial(certFile, keyFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `openssl req` arguments for a self-signed P-256 certificate (`san`: `DNS:a,IP:b,...`). */
export function selfSignedArgs(o: {
  cn: string;
  san: string;
  days: number;
  keyFile: string;
  certFile: string;
}): string[] {
  return [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    String(o.days),
    '-subj',
    `/CN=${o.cn}`,
    '-addext',
    `subjectAltName=${o.san}`,
    '-keyout',
    o.keyFile,
    '-out',
    o.certFile,
  ];
}

/** The secure context server-side TLS sockets use. */
export function secureContextOf(material: TlsMaterial): SecureContext {
  return createSecureContext({ cert: material.cert, key: material.key });
}
