/**
 * The closed list of diagnostic codes. Every code has a severity and a one-line summary; each is
 * documented in docs/diagnostics.md (a test fails when one is missing there).
 */
export const CODES = {
  E_YAML_SYNTAX: { severity: 'error', summary: 'a file is not valid YAML' },
  E_UNKNOWN_KEY: { severity: 'error', summary: 'a key the vocabulary does not know' },
  E_TYPE: { severity: 'error', summary: 'a value of the wrong type or out of range' },
  E_ADDRESS: { severity: 'error', summary: 'not a strictly written IPv4/IPv6 address or prefix' },
  E_MISSING_FILE: { severity: 'error', summary: 'a required file of the site is missing' },
  E_UNKNOWN_GROUP: { severity: 'error', summary: 'backend.group names no inventory group' },
  E_EMPTY_GROUP: { severity: 'error', summary: 'an inventory group with no hosts is used as a backend' },
  E_NO_SERVERS: { severity: 'error', summary: 'a backend has no servers at all' },
  E_BACKUP_ONLY: { severity: 'error', summary: 'every server of a backend is a backup server' },
  E_DUPLICATE_SERVER: { severity: 'error', summary: 'two servers of one backend share a name' },
  E_BACKEND_ADDRESS: {
    severity: 'error',
    summary: 'a server at a node, VIP, loopback, link-local or other special-use address',
  },
  E_NO_VIP: { severity: 'error', summary: 'a service has no VIP and none can be inferred' },
  E_VIP_FAMILY: { severity: 'error', summary: 'an IPv6 address in vip or an IPv4 address in vip6' },
  E_VIP_CONFLICT: { severity: 'error', summary: 'two services claim the same VIP and port' },
  E_VIP_NODE: {
    severity: 'error',
    summary: 'a VIP equals the address of a node, BGP peer or inventory host, or a special-use address',
  },
  E_FQDN_CONFLICT: { severity: 'error', summary: 'two services claim the same FQDN on the same port' },
  E_DNS_MISMATCH: { severity: 'error', summary: "the FQDN's DNS answer disagrees with the VIP" },
  E_DNS_UNRESOLVED: { severity: 'error', summary: 'an FQDN has no address and the VIP depends on it' },
  E_LOCKED_KEY: { severity: 'error', summary: 'a key locked by a defaults file above is set again' },
  E_VIP_OUTSIDE_POOL: { severity: 'error', summary: "a VIP lies outside the owning team's pools" },
  E_PORT_NOT_ALLOWED: { severity: 'error', summary: 'a port the owning team may not use' },
  E_INJECTION: { severity: 'error', summary: 'a value that would inject configuration syntax' },
  E_CERT_MISSING: { severity: 'error', summary: 'no certificate bundle covers a TLS service FQDN' },
  E_CERT_INVALID: { severity: 'error', summary: 'a certificate bundle cannot be read or lacks its key' },
  E_ROUTE: { severity: 'error', summary: 'a route or redirect that can never match or is incomplete' },
  E_PROTOCOL: { severity: 'error', summary: 'an option that the service protocol cannot honour' },
  E_SITE: { severity: 'error', summary: 'a platform setting in site.yaml that cannot work' },
  E_HEALTH_TIMING: {
    severity: 'error',
    summary: "healthd's interval, timeout or hold-down outside its limits (timeout below interval)",
  },
  E_CHECK_COMMAND: {
    severity: 'error',
    summary:
      'an exec health check names no command of site.yaml checks.commands, or passes arguments it may not',
  },
  E_NAME_CONFLICT: { severity: 'error', summary: 'two names collide once mapped to instance or BIRD names' },
  E_NAME: {
    severity: 'error',
    summary: 'a file, folder, host, group, node, peer, team, server or site name outside the name grammar',
  },
  E_FILE: {
    severity: 'error',
    summary: 'a symbolic link, special file or unreadable file where the site needs a regular file or folder',
  },
  E_LIMIT: { severity: 'error', summary: 'a file too large, nested too deep, or a site with too many files' },
  E_DUPLICATE_FILE: { severity: 'error', summary: 'a .yml file next to the .yaml file of the same name' },
  W_CERT_EXPIRY: { severity: 'warning', summary: 'a certificate expires within 30 days' },
  W_ROUTE_SHADOWED: { severity: 'warning', summary: 'a route is hidden by an earlier, broader one' },
  W_DNS_UNCHECKED: { severity: 'warning', summary: 'an FQDN could not be checked against DNS' },
  W_SINGLE_SERVER: { severity: 'warning', summary: 'a backend with one server has no redundancy' },
  W_STATS_PORTS_EPHEMERAL: {
    severity: 'warning',
    summary: "the HAProxy stats port range overlaps the kernel's ephemeral ports",
  },
} as const satisfies Record<string, { severity: 'error' | 'warning'; summary: string }>;

export type Code = keyof typeof CODES;
export type Severity = 'error' | 'warning';
