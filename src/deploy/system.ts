import { request } from 'node:http';
import { runTool } from '../build/run-tool.ts';
import { ActionError } from './errors.ts';

/**
 * The node-level side effects of apply: VIP addresses on `lo`, the nftables ruleset, and probing an
 * instance's monitor URI. They act on the namespace apply runs in (the lab runs apply inside each
 * node's namespace).
 */

function cidr(address: string): string {
  return address.includes('/') ? address : `${address}/${address.includes(':') ? 128 : 32}`;
}

/**
 * Whether `lo` holds the address. `ip` words "already there" and "not there" differently across
 * kernels ("File exists" / "Address already assigned", "Cannot assign requested address" /
 * "Address not found"), so a failed add or delete is judged by asking, not by its message.
 */
async function onLoopback(address: string): Promise<boolean | undefined> {
  const r = await runTool('ip', ['-o', 'addr', 'show', 'dev', 'lo', 'to', cidr(address)]);
  return r.ok ? r.output.trim() !== '' : undefined;
}

export async function addAddress(address: string): Promise<void> {
  const r = await runTool('ip', ['addr', 'add', cidr(address), 'dev', 'lo']);
  if (!r.ok && (await onLoopback(address)) !== true)
    throw new ActionError(`ip addr add ${address} dev lo: ${r.output}`);
}

export async function removeAddress(address: string): Promise<void> {
  const r = await runTool('ip', ['addr', 'del', cidr(address), 'dev', 'lo']);
  if (!r.ok && (await onLoopback(address)) !== false)
    throw new ActionError(`ip addr del ${address} dev lo: ${r.output}`);
}

export async function loadNftables(file: string): Promise<void> {
  const r = await runTool('nft', ['-f', file]);
  if (!r.ok) throw new ActionError(`nft -f ${file}: ${r.output}`);
}

/**
 * Where an instance answers its monitor URI, read from its generated configuration: the VIP's
 * monitor frontend, or, when that binds `transparent` (VRRP: the VIP may be held by the other
 * node), the node-local stats frontend, which carries the same monitor URI.
 */
export function monitorEndpoint(
  config: string,
  instance: string,
): { host: string; port: number; path: string } | null {
  const monitor = frontend(config, `monitor_${instance}`);
  if (monitor === null) return null;
  const local = / transparent$/m.test(monitor) ? frontend(config, `stats_${instance}`) : null;
  return endpoint(local ?? monitor) ?? endpoint(monitor);
}

function frontend(config: string, name: string): string | null {
  const start = config.indexOf(`\nfrontend ${name}\n`);
  if (start < 0) return null;
  const end = config.indexOf('\n\n', start + 1);
  return config.slice(start, end < 0 ? undefined : end);
}

function endpoint(section: string): { host: string; port: number; path: string } | null {
  const bind = /\n\s+bind (?:\[([^\]]+)\]|([^\s:]+)):(\d+)/.exec(section);
  const uri = /\n\s+monitor-uri (\S+)/.exec(section);
  if (bind === null || uri === null) return null;
  return { host: (bind[1] ?? bind[2])!, port: Number(bind[3]), path: uri[1]! };
}

/** One GET; resolves with the status code, or null when nothing answered in time. */
export function httpStatus(
  host: string,
  port: number,
  path: string,
  timeoutMs = 1000,
): Promise<number | null> {
  return new Promise((done) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      done(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(null));
    req.end();
  });
}

/**
 * Waits until the instance answers its monitor URI: 200 (serving) or 503 (running, but no usable
 * server behind it — reported, not a failure of the deploy). Null when it never answered.
 */
export async function waitServing(
  endpoint: { host: string; port: number; path: string },
  timeoutMs: number,
): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await httpStatus(endpoint.host, endpoint.port, endpoint.path, 1000);
    if (status === 200 || status === 503) return status;
    if (Date.now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, 50));
  }
}
