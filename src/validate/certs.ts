import { X509Certificate } from 'node:crypto';
import { type Diagnostic, diag } from '../diagnostics/index.ts';
import type { CertFile } from '../load/index.ts';
import type { CertModel } from '../model/index.ts';

/** Reads each PEM bundle: its first certificate's DNS names and expiry; the key must be there too. */
export function parseCerts(files: readonly CertFile[]): { certs: CertModel[]; diagnostics: Diagnostic[] } {
  const certs: CertModel[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const f of files) {
    const at = { file: f.path, line: 1, column: 1 };
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(f.pem)) {
      diagnostics.push(
        diag('E_CERT_INVALID', {
          message: `${f.path} holds no private key`,
          at,
          hint: 'a bundle is the certificate, its chain, and the private key, concatenated in one PEM file',
        }),
      );
      continue;
    }
    try {
      const x = new X509Certificate(f.pem);
      const names = (x.subjectAltName ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.startsWith('DNS:'))
        .map((s) => s.slice(4).toLowerCase());
      const cn = /CN=([^\n,]+)/.exec(x.subject)?.[1]?.toLowerCase();
      if (names.length === 0 && cn) names.push(cn);
      certs.push({
        file: f.path,
        names: [...new Set(names)].sort(),
        notAfter: new Date(x.validTo).toISOString(),
        pem: f.pem,
      });
    } catch (e) {
      diagnostics.push(
        diag('E_CERT_INVALID', {
          message: `${f.path} is not a readable PEM certificate (${(e as Error).message})`,
          at,
        }),
      );
    }
  }
  return { certs, diagnostics };
}

/** Whether a certificate name (possibly `*.example.org`) covers a host name. */
export function certCovers(certName: string, fqdn: string): boolean {
  const host = fqdn.toLowerCase().replace(/\.$/, '');
  if (certName === host) return true;
  if (certName.startsWith('*.')) {
    const dot = host.indexOf('.');
    return dot > 0 && host.slice(dot + 1) === certName.slice(2);
  }
  return false;
}
