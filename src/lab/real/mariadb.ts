/**
 * MariaDB: a datadir made by `mariadb-install-db`, an option file of its own, and an init file that
 * creates the users the site needs — `haproxy` without a password for `option mysql-check user
 * haproxy` (as HAProxy's manual asks of every server) and `lab`/`lab` for clients. PROXY v1 and
 * v2 from the LB nodes through `proxy_protocol_networks`.
 */
import { join } from 'node:path';
import type { RealDaemon } from './types.ts';

const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';

/** The account `lab up --backends real` gives clients, password the same. */
export const MYSQL_LAB_USER = 'lab';

export const mariadb: RealDaemon = {
  protocol: 'mysql',
  daemon: 'mariadb',
  package: 'mariadb-server',
  binaries: [MARIADBD, INSTALL_DB],
  proxy: ['v1', 'v2'],
  setup(i, dir, bin) {
    const cnf = join(dir, 'my.cnf');
    const options = [
      '[mariadbd]',
      'user = root',
      `datadir = ${join(dir, 'data')}`,
      `socket = ${join(dir, 'mysqld.sock')}`,
      `pid-file = ${join(dir, 'mysqld.pid')}`,
      `bind-address = ${i.addresses.join(',')}`,
      `port = ${i.port}`,
      // Client addresses are the lab's: no DNS to ask, and '%' matches them.
      'skip-name-resolve',
      'skip-log-bin',
      'innodb_buffer_pool_size = 16M',
      'innodb_log_file_size = 8M',
      `init-file = ${join(dir, 'init.sql')}`,
      ...(i.proxy === undefined ? [] : [`proxy-protocol-networks = ${i.trusted.join(',')}`]),
    ];
    const init = [
      "CREATE USER IF NOT EXISTS 'haproxy'@'%';",
      `CREATE USER IF NOT EXISTS '${MYSQL_LAB_USER}'@'%' IDENTIFIED BY '${MYSQL_LAB_USER}';`,
    ];
    return {
      dirs: [{ path: 'data', mode: 0o700 }],
      files: [
        { path: 'my.cnf', text: `${options.join('\n')}\n` },
        { path: 'init.sql', text: `${init.join('\n')}\n` },
      ],
      prepare: [
        [
          bin(INSTALL_DB),
          `--defaults-file=${cnf}`,
          '--skip-test-db',
          '--auth-root-authentication-method=socket',
        ],
      ],
      start: [bin(MARIADBD), `--defaults-file=${cnf}`],
      ready: 'ready for connections',
    };
  },
};
