/** The daemon that serves each protocol under `lab up --backends real`. */
import { mariadb } from './mariadb.ts';
import { postfix } from './postfix.ts';
import { postgresql } from './postgresql.ts';
import { redis } from './redis.ts';
import { slapd } from './slapd.ts';
import type { RealDaemon, RealProtocol } from './types.ts';

export const REAL_DAEMONS: Record<RealProtocol, RealDaemon> = {
  ldap: slapd,
  smtp: postfix,
  mysql: mariadb,
  pgsql: postgresql,
  redis,
};
