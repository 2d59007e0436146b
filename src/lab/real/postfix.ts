/**
 * Postfix: a `config_directory` of its own (main.cf, master.cf with no chroot) and its own queue
 * and data folders; its `master` in the foreground (`-d`) logs to stdout through postlogd. The
 * queue folders are made here as Postfix's postfix-files lists them: `postfix set-permissions`
 * does the same in ~4 s. PROXY v1 and v2 through `smtpd_upstream_proxy_protocol = haproxy`.
 */
import { join } from 'node:path';
import { familyOf } from '../../vocabulary/strings.ts';
import type { DaemonDir, RealDaemon } from './types.ts';

const MASTER = '/usr/lib/postfix/sbin/master';

/** The queue's folders: owner, group and mode as in Postfix's postfix-files. */
const QUEUE: readonly DaemonDir[] = [
  ...[
    'active',
    'bounce',
    'corrupt',
    'defer',
    'deferred',
    'flush',
    'hold',
    'incoming',
    'private',
    'saved',
    'trace',
  ].map((d) => ({ path: `queue/${d}`, mode: 0o700, owner: 'postfix' })),
  { path: 'queue/maildrop', mode: 0o730, owner: 'postfix', group: 'postdrop' },
  { path: 'queue/public', mode: 0o710, owner: 'postfix', group: 'postdrop' },
  { path: 'queue/pid', mode: 0o755 },
];

/** master.cf: the services an smtpd needs behind it, none chrooted (`<service> <type> <private> <unpriv> <chroot> <wakeup> <maxproc> <command>`). */
const SERVICES = [
  'pickup unix n - n 60 1 pickup',
  'cleanup unix n - n - 0 cleanup',
  'qmgr unix n - n 300 1 qmgr',
  'rewrite unix - - n - - trivial-rewrite',
  'bounce unix - - n - 0 bounce',
  'defer unix - - n - 0 bounce',
  'trace unix - - n - 0 bounce',
  'verify unix - - n - 1 verify',
  'flush unix n - n 1000? 0 flush',
  'proxymap unix - - n - - proxymap',
  'smtp unix - - n - - smtp',
  'relay unix - - n - - smtp',
  'showq unix n - n - - showq',
  'error unix - - n - - error',
  'retry unix - - n - - error',
  'discard unix - - n - - discard',
  'local unix - n n - - local',
  'anvil unix - - n - 1 anvil',
  'scache unix - - n - 1 scache',
  'postlog unix-dgram n - n - 1 postlogd',
];

export const postfix: RealDaemon = {
  protocol: 'smtp',
  daemon: 'postfix',
  package: 'postfix',
  binaries: [MASTER],
  proxy: ['v1', 'v2'],
  setup(i, dir, bin) {
    const families = new Set(i.addresses.map(familyOf));
    const main = [
      'compatibility_level = 3.6',
      `queue_directory = ${join(dir, 'queue')}`,
      `data_directory = ${join(dir, 'data')}`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      `myhostname = ${i.host.replace(/_/g, '-')}.lab.invalid`,
      'mydestination =',
      `inet_interfaces = ${i.addresses.map((a) => (familyOf(a) === 6 ? `[${a}]` : a)).join(', ')}`,
      `inet_protocols = ${families.size === 2 ? 'all' : families.has(6) ? 'ipv6' : 'ipv4'}`,
      'maillog_file = /dev/stdout',
      'alias_maps =',
      'alias_database =',
      // The namespace has no resolver to ask: a reverse lookup would only wait.
      'smtpd_peername_lookup = no',
    ];
    const smtpd = `${i.port} inet n - n - - smtpd${i.proxy === undefined ? '' : ' -o smtpd_upstream_proxy_protocol=haproxy'}`;
    return {
      dirs: [
        { path: 'conf', mode: 0o755 },
        { path: 'queue', mode: 0o755 },
        ...QUEUE,
        { path: 'data', mode: 0o700, owner: 'postfix' },
      ],
      files: [
        { path: 'conf/main.cf', text: `${main.join('\n')}\n` },
        { path: 'conf/master.cf', text: `${[smtpd, ...SERVICES].join('\n')}\n` },
      ],
      prepare: [],
      start: [bin(MASTER), '-c', join(dir, 'conf'), '-d'],
      ready: 'daemon started',
    };
  },
};
