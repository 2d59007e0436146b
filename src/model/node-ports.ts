/**
 * The TCP ports an LB node's own daemons listen on, on the node's address: HAProxy's stats ports
 * (also bound there, from management.stats_port_base) never take one of them.
 */
export const SSH_PORT = 22;
/** BIRD's BGP sessions with the routers. */
export const BGP_PORT = 179;
/** The Icinga 2 API port: the master connects to each node's agent there (the nodes' firewall opens it to management). */
export const ICINGA_API_PORT = 5665;
/** Port of the health checker's HTTP `/metrics` and `/status` on the node's address. */
export const HEALTHD_PORT = 9300;

export const NODE_PORTS: readonly number[] = [SSH_PORT, BGP_PORT, ICINGA_API_PORT, HEALTHD_PORT];

/**
 * Linux's default ephemeral port range (net.ipv4.ip_local_port_range): a stats port there can be
 * taken by an outgoing connection (a health check, a BGP session) just when HAProxy binds it.
 */
export const EPHEMERAL_PORTS = { first: 32768, last: 60999 } as const;
