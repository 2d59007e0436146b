import type { CheckModel } from '../../model/index.ts';
import type { CheckType } from '../../vocabulary/protocols.ts';
import { arg, logFormat } from '../quote/haproxy.ts';

/**
 * What each health-check type writes into a backend. One descriptor per type; the backend
 * renderer only reads this table.
 */
export interface CheckDirectives {
  /** Proxy-level lines (`option httpchk`, `tcp-check ...`). */
  lines(check: CheckModel): string[];
  /** Whether servers get the `check` keyword at all. */
  enabled: boolean;
}

const none = (): string[] => [];

export const CHECK_DIRECTIVES: Record<CheckType, CheckDirectives> = {
  http: {
    enabled: true,
    lines: (c) => [
      'option httpchk',
      // `uri` is a plain string; a `hdr` value is log-format (configuration.txt, http-check send).
      `http-check send meth GET uri ${arg(c.path)} ver HTTP/1.1 hdr Host ${logFormat(c.host ?? 'localhost')} hdr User-Agent intentlb-check`,
      ...(c.expect === undefined
        ? []
        : [
            typeof c.expect === 'number'
              ? `http-check expect status ${c.expect}`
              : // A string the answer must contain (docs/intent.md), not a regex.
                `http-check expect string ${arg(c.expect)}`,
          ]),
    ],
  },
  tcp: { enabled: true, lines: none },
  smtp: { enabled: true, lines: () => ['option smtpchk HELO intentlb'] },
  ldap: { enabled: true, lines: () => ['option ldap-check'] },
  mysql: { enabled: true, lines: () => ['option mysql-check user haproxy post-41'] },
  pgsql: { enabled: true, lines: () => ['option pgsql-check user haproxy'] },
  redis: { enabled: true, lines: () => ['option redis-check'] },
  imap: {
    enabled: true,
    lines: () => ['option tcp-check', 'tcp-check connect', 'tcp-check expect rstring ^\\*\\ OK'],
  },
  pop3: {
    enabled: true,
    lines: () => ['option tcp-check', 'tcp-check connect', 'tcp-check expect string +OK'],
  },
  none: { enabled: false, lines: none },
};
