/**
 * PostgreSQL: a cluster made by `initdb` (superuser `lab`, password `lab`), run by the `postgres`
 * user (it refuses root), with its own pg_hba.conf: password (SCRAM) from anywhere, as a
 * production server asks — HAProxy's `pgsql-check` takes an authentication request as healthy. No
 * PROXY protocol (PostgreSQL has none).
 */
import { join } from 'node:path';
import type { RealDaemon } from './types.ts';

const POSTGRES = '/usr/lib/postgresql/*/bin/postgres';
const INITDB = '/usr/lib/postgresql/*/bin/initdb';

/** The cluster's superuser, password the same. */
export const PGSQL_LAB_USER = 'lab';

export const postgresql: RealDaemon = {
  protocol: 'pgsql',
  daemon: 'postgresql',
  package: 'postgresql',
  binaries: [POSTGRES, INITDB],
  proxy: [],
  user: 'postgres',
  setup(i, dir, bin) {
    const hba = [
      'local all all trust',
      'host all all 0.0.0.0/0 scram-sha-256',
      'host all all ::/0 scram-sha-256',
    ];
    return {
      dirs: [],
      files: [
        { path: 'pwfile', text: `${PGSQL_LAB_USER}\n` },
        { path: 'pg_hba.conf', text: `${hba.join('\n')}\n` },
      ],
      prepare: [
        [
          bin(INITDB),
          '-D',
          join(dir, 'data'),
          '-U',
          PGSQL_LAB_USER,
          `--pwfile=${join(dir, 'pwfile')}`,
          '--auth-host=scram-sha-256',
          '--auth-local=trust',
          '--no-sync',
          '--encoding=UTF8',
          '--locale=C',
        ],
      ],
      start: [
        bin(POSTGRES),
        '-D',
        join(dir, 'data'),
        '-k',
        dir,
        '-c',
        `listen_addresses=${i.addresses.join(',')}`,
        '-c',
        `port=${i.port}`,
        '-c',
        `hba_file=${join(dir, 'pg_hba.conf')}`,
        '-c',
        'shared_buffers=16MB',
        '-c',
        'fsync=off',
        '-c',
        'logging_collector=off',
      ],
      ready: 'database system is ready to accept connections',
    };
  },
};
