/**
 * Helpers for the lab's integration tests: run the CLI in-process, talk to services from inside a
 * lab host's namespace (curl, a raw TCP/TLS probe), and clean up a test's namespaces whatever state
 * the lab is in.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { labDown } from '../../src/lab/lab.ts';
import { IP, listNamespaces } from '../../src/lab/netns.ts';
import { sweepNamespaces } from '../../src/lab/processes.ts';
import { unwire } from '../../src/lab/wiring.ts';
import type { CliRun } from '../helpers/cli.ts';

export { type CliRun, cli } from '../helpers/cli.ts';

/** Runs a command inside a namespace; never throws (the exit code says how it went). */
export function inNs(ns: string, command: string[], timeoutMs = 15_000): Promise<CliRun> {
  const [cmd, ...args] = command;
  return new Promise((resolve) => {
    execFile(
      IP,
      ['netns', 'exec', ns, cmd!, ...args],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface HttpAnswer {
  status: number;
  headers: string;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** One curl request from inside `ns` (insecure TLS, headers kept); fails the test when curl does. */
export async function curlIn(ns: string, args: string[]): Promise<HttpAnswer> {
  const r = await inNs(ns, ['curl', '-sk', '--max-time', '5', '-D', '-', ...args]);
  if (r.code !== 0) throw new Error(`curl ${args.join(' ')} in ${ns}: exit ${r.code} ${r.stderr}`);
  const split = r.stdout.indexOf('\r\n\r\n');
  const headers = r.stdout.slice(0, split);
  const body = r.stdout.slice(split + 4);
  return {
    status: Number(headers.split(' ')[1]),
    headers,
    body,
    json: <T>() => JSON.parse(body) as T,
  };
}

/**
 * A raw TCP (or TLS) conversation from inside `ns`: connect, send `send` (hex), collect what comes
 * back until it holds `until` (or the connection closes, or `ms` pass). Returns it as latin1 text.
 */
export async function probeIn(
  ns: string,
  o: { host: string; port: number; sendHex?: string; until?: string; tls?: boolean; ms?: number },
): Promise<string> {
  const script = `
const [host, port, hex, untilHex, tls, ms] = process.argv.slice(1);
const until = untilHex ? Buffer.from(untilHex, 'hex') : null;
const net = await import(tls === '1' ? 'node:tls' : 'node:net');
let got = Buffer.alloc(0);
const done = () => { process.stdout.write(got.toString('latin1')); process.exit(0); };
const s = net.connect({ host, port: Number(port), rejectUnauthorized: false }, () => {
  if (hex) s.write(Buffer.from(hex, 'hex'));
});
s.on('data', (d) => { got = Buffer.concat([got, d]); if (until && got.includes(until)) done(); });
s.on('close', done);
s.on('error', (e) => { process.stderr.write(String(e)); process.exit(3); });
setTimeout(done, Number(ms));
`;
  const r = await inNs(ns, [
    process.execPath,
    '--input-type=module',
    '-e',
    script,
    o.host,
    String(o.port),
    o.sendHex ?? '',
    Buffer.from(o.until ?? '', 'latin1').toString('hex'),
    o.tls === true ? '1' : '0',
    String(o.ms ?? 3000),
  ]);
  if (r.code !== 0) throw new Error(`probe ${o.host}:${o.port} from ${ns}: exit ${r.code} ${r.stderr}`);
  return r.stdout;
}

export { eventually } from '../helpers/ns-fixture.ts';

/** Namespaces whose names start with `prefix`. */
export function namespacesWith(prefix: string): string[] {
  return listNamespaces().filter((n) => n.startsWith(prefix));
}

/** Mount points that mention `needle` (namespace files under /run/netns, a lab folder). */
export function mountsWith(needle: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(needle));
}

/**
 * Whatever happened, leaves nothing of a test lab: `lab down` through its state, then any
 * namespace with the test's own prefix (its processes first) — for a lab whose state was lost.
 */
export async function cleanupLab(prefix: string, dir: string): Promise<void> {
  try {
    if (existsSync(dir)) await labDown({ prefix, dir });
  } finally {
    const left = namespacesWith(prefix);
    await sweepNamespaces(left);
    await unwire(left);
  }
}
