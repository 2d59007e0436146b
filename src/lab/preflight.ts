/** What the lab needs from the machine, checked up front with one message naming everything missing. */
import { findTool } from '../build/run-tool.ts';

/** The Debian package that brings each tool. */
const PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  haproxy: 'haproxy',
  bird: 'bird2',
  vtysh: 'frr',
  keepalived: 'keepalived',
  nft: 'nftables',
  openssl: 'openssl',
  sysctl: 'procps',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
};

/** Tools `lab up` and `lab apply` run (or the deployed nodes run). */
export const UP_TOOLS = [
  'ip',
  'sysctl',
  'haproxy',
  'bird',
  'keepalived',
  'nft',
  'sshd',
  'ssh-keygen',
] as const;

/** Tools `down`, `status` and `exec` need. */
export const BASIC_TOOLS = ['ip'] as const;

/**
 * Problems that stop the lab: not root, tools missing. Empty when all is there. `uid` and `find`
 * are injectable for tests.
 */
export function preflight(
  tools: readonly string[],
  uid: number | undefined = process.getuid?.(),
  find: (name: string) => string | undefined = findTool,
): string[] {
  const problems: string[] = [];
  if (uid !== 0) problems.push('intentlb lab needs root (network namespaces): run it as root or with sudo');
  const missing = tools.filter((t) => find(t) === undefined);
  if (missing.length > 0) {
    problems.push(
      `intentlb lab needs ${tools.join(', ')}; missing: ${missing
        .map((t) => `${t} (apt-get install ${PACKAGES[t] ?? t})`)
        .join(', ')}`,
    );
  }
  return problems;
}
