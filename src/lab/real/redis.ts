/** redis-server with a generated configuration: no persistence, in the foreground. No PROXY protocol. */
import { join } from 'node:path';
import type { RealDaemon } from './types.ts';

const REDIS = '/usr/bin/redis-server';

export const redis: RealDaemon = {
  protocol: 'redis',
  daemon: 'redis',
  package: 'redis-server',
  binaries: [REDIS],
  proxy: [],
  setup(i, dir, bin) {
    const conf = [
      `bind ${i.addresses.join(' ')}`,
      `port ${i.port}`,
      // Bound to the lab's addresses only; no password, as the health check and the test use none.
      'protected-mode no',
      'daemonize no',
      `dir ${dir}`,
      'save ""',
      'appendonly no',
      'logfile ""',
    ];
    return {
      dirs: [],
      files: [{ path: 'redis.conf', text: `${conf.join('\n')}\n` }],
      prepare: [],
      start: [bin(REDIS), join(dir, 'redis.conf')],
      ready: 'Ready to accept connections',
    };
  },
};
