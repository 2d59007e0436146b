import { yaml } from './site.ts';

/**
 * A small clean site that the table cases modify: two LB nodes, a web team with a pool and ports,
 * an inventory with a normal, a dual-stack and an empty group, offline DNS, one web service and
 * one database service outside any team. Line numbers matter: the tables point into these files.
 */
export const BASE_SITE: Readonly<Record<string, string>> = {
  'site.yaml': yaml(
    'site: test',
    'nodes:',
    '  - { name: lb1, address: 198.18.0.11, address6: "2001:db8::11" }',
    '  - { name: lb2, address: 198.18.0.12 }',
    'ha:',
    '  mode: anycast',
    '  bgp: { local_as: 65001, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }] }',
    'tls: { policy: intermediate, certs: certs }',
    'teams:',
    '  web: { path: web, vip_pools: [198.18.100.0/24, "2001:db8:100::/64"], ports: [80, 443] }',
  ),
  'inventory.yaml': yaml(
    'groups:',
    '  app:',
    '    hosts: { app1: 198.18.10.11, app2: 198.18.10.12 }',
    '  db:',
    '    hosts:',
    '      db1: { address: 198.18.11.11 }',
    '      db2: { address: 198.18.11.12, address6: "2001:db8:11::12" }',
    '  empty:',
    '    hosts:',
  ),
  'dns.yaml': yaml(
    'www.test.example: 198.18.100.10',
    'shop.test.example: [198.18.100.20, "2001:db8:100::20"]',
    'multi.test.example: [198.18.100.30, 198.18.100.31]',
  ),
  'services/defaults.yaml': yaml('backend:', '  check: { interval: 2s, rise: 2, fall: 3 }'),
  'services/web/www.yaml': yaml(
    'fqdn: www.test.example',
    'vip: 198.18.100.10',
    'backend:',
    '  group: app',
    '  port: 8080',
  ),
  'services/db/pg.yaml': yaml('vip: 198.18.20.10', 'protocol: pgsql', 'backend:', '  group: db'),
};
