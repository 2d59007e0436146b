/** The HAProxy the health-check benchmarks probe: one `monitor-uri` frontend, one thread. */
export function monitorHaproxyConfig(port: number, path: string): string {
  return [
    'global',
    '  maxconn 4096',
    '  nbthread 1',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend monitor',
    `  bind 127.0.0.1:${port}`,
    `  monitor-uri ${path}`,
    '',
  ].join('\n');
}
