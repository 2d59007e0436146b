/**
 * OpenLDAP's slapd: a slapd.conf of its own (one empty mdb database), in the foreground with
 * `-d stats` (its connection log: the client address a PROXY header carried shows there). PROXY
 * through `pldap://` listeners, which take version 2 only (slapd(8)).
 */
import { join } from 'node:path';
import { familyOf } from '../../vocabulary/strings.ts';
import type { RealDaemon } from './types.ts';

const SLAPD = '/usr/sbin/slapd';

/** The suffix of the lab's (empty) database: what `namingContexts` of the root DSE names. */
export const LDAP_SUFFIX = 'dc=lab,dc=example';

export const slapd: RealDaemon = {
  protocol: 'ldap',
  daemon: 'slapd',
  package: 'slapd',
  binaries: [SLAPD],
  proxy: ['v2'],
  setup(i, dir, bin) {
    const scheme = i.proxy === undefined ? 'ldap' : 'pldap';
    const urls = i.addresses.map((a) => `${scheme}://${familyOf(a) === 6 ? `[${a}]` : a}:${i.port}/`);
    const conf = [
      'include /etc/ldap/schema/core.schema',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'database mdb',
      `suffix "${LDAP_SUFFIX}"`,
      `rootdn "cn=admin,${LDAP_SUFFIX}"`,
      'rootpw lab',
      `directory ${join(dir, 'data')}`,
      'maxsize 10485760',
    ];
    return {
      dirs: [{ path: 'data', mode: 0o700 }],
      files: [{ path: 'slapd.conf', text: `${conf.join('\n')}\n` }],
      prepare: [],
      start: [bin(SLAPD), '-d', 'stats', '-f', join(dir, 'slapd.conf'), '-h', urls.join(' ')],
      ready: 'slapd starting',
    };
  },
};
