/**
 * Mozilla server-side TLS profiles (ssl-config.mozilla.org, HAProxy 2.6 / OpenSSL 3.0), one
 * descriptor each. `old` leaves out Mozilla's DES-CBC3-SHA: Debian's OpenSSL has no 3DES suite, so
 * it was never offered (testssl.sh showed it; ADR 0025, test/interop/tls-testssl.test.ts).
 */
export interface TlsProfile {
  ciphers?: string;
  ciphersuites: string;
  minVersion: 'TLSv1.0' | 'TLSv1.2' | 'TLSv1.3';
  /** Let the server's cipher order win (not for modern: all TLS 1.3 suites are strong). */
  preferServerCiphers: boolean;
}

const SUITES13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

export const TLS_PROFILES: Record<'modern' | 'intermediate' | 'old', TlsProfile> = {
  modern: { ciphersuites: SUITES13, minVersion: 'TLSv1.3', preferServerCiphers: false },
  intermediate: {
    ciphers:
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305',
    ciphersuites: SUITES13,
    minVersion: 'TLSv1.2',
    preferServerCiphers: false,
  },
  old: {
    ciphers:
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:@SECLEVEL=0',
    ciphersuites: SUITES13,
    minVersion: 'TLSv1.0',
    preferServerCiphers: true,
  },
};
