export * as bird from './bird.ts';
export * as haproxy from './haproxy.ts';
export * as icinga2 from './icinga2.ts';
export * as keepalived from './keepalived.ts';
export * as nftables from './nftables.ts';
export * as promql from './promql.ts';
export * from './refusal.ts';
export * as systemd from './systemd.ts';
