import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a synthetic site: `services` services in `departments` folders, each backed by an
 * inventory group of `serversPerGroup` hosts, `groups` groups shared round-robin, VIPs counted up
 * from 198.18.100.0 (the /15 holds 131,072 addresses).
 */
export function generateSite(
  dir: string,
  opts: { services: number; groups: number; serversPerGroup: number; departments?: number },
): void {
  const departments = opts.departments ?? 10;
  mkdirSync(join(dir, 'services'), { recursive: true });
  writeFileSync(
    join(dir, 'site.yaml'),
    [
      'site: bench',
      'nodes:',
      '  - { name: lb1, address: 198.18.0.11 }',
      '  - { name: lb2, address: 198.18.0.12 }',
      'ha: { mode: anycast, bgp: { local_as: 65001, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }] } }',
      'instances: per-vip',
      'teams:',
      ...Array.from(
        { length: departments },
        (_, d) => `  dept${d}: { path: dept${d}, vip_pools: [198.18.0.0/15], ports: [80, 443, 8080] }`,
      ),
      '',
    ].join('\n'),
  );
  const inv = ['groups:'];
  for (let g = 0; g < opts.groups; g++) {
    inv.push(`  group${g}:`, '    hosts:');
    for (let s = 0; s < opts.serversPerGroup; s++) {
      const n = g * opts.serversPerGroup + s;
      inv.push(`      g${g}s${s}: 198.18.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`);
    }
  }
  writeFileSync(join(dir, 'inventory.yaml'), `${inv.join('\n')}\n`);
  writeFileSync(
    join(dir, 'services', 'defaults.yaml'),
    'backend:\n  port: 8080\n  check: { path: /health }\n',
  );
  for (let d = 0; d < departments; d++) {
    mkdirSync(join(dir, 'services', `dept${d}`), { recursive: true });
    writeFileSync(
      join(dir, 'services', `dept${d}`, 'defaults.yaml'),
      `monitoring:\n  contacts: [dept${d}-oncall]\n`,
    );
  }
  for (let i = 0; i < opts.services; i++) {
    const d = i % departments;
    const ip = 100 * 256 + i;
    const vip = `198.${18 + Math.floor(ip / 65536)}.${Math.floor(ip / 256) % 256}.${ip % 256}`;
    const text = [
      `fqdn: svc${i}.bench.example`,
      `vip: ${vip}`,
      `backend: { group: group${i % opts.groups}${i % 3 === 0 ? ', sticky: cookie' : ''} }`,
      ...(i % 5 === 0
        ? ['routes:', `  - { path_prefix: /api, backend: { group: group${(i + 1) % opts.groups} } }`]
        : []),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'services', `dept${d}`, `svc${i}.yaml`), text);
  }
}
