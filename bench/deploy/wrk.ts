import type { ChildProcess } from 'node:child_process';
import { nsSpawn } from '../../src/lab/netns.ts';

/** What wrk reports at the end of a run. */
export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  /** Every failed request: socket errors of any kind plus non-2xx/3xx answers. */
  failed: number;
  raw: string;
}

/** Parses wrk's text summary (wrk 4.x). Throws when the summary is missing. */
export function parseWrk(text: string): WrkResult {
  const done = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (done === null || rps === null) throw new Error(`wrk: no summary in its output:\n${text}`);
  const unit = done[3] === 'ms' ? 0.001 : done[3] === 'm' ? 60 : 1;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const status = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const errors = {
    connect: Number(sock?.[1] ?? 0),
    read: Number(sock?.[2] ?? 0),
    write: Number(sock?.[3] ?? 0),
    timeout: Number(sock?.[4] ?? 0),
    status: Number(status?.[1] ?? 0),
  };
  return {
    requests: Number(done[1]),
    seconds: Number(done[2]) * unit,
    requestsPerSecond: Number(rps[1]),
    errors,
    failed: errors.connect + errors.read + errors.write + errors.timeout + errors.status,
    raw: text,
  };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  threads: number;
  connections: number;
  /** A new connection per request (`Connection: close`) instead of keep-alive. */
  close: boolean;
}

export interface WrkRun {
  child: ChildProcess;
  done: Promise<WrkResult>;
  /** Ends the run early: on SIGINT wrk stops and still prints its summary. */
  stop(): void;
}

/**
 * Starts wrk in a namespace; `done` resolves with its summary. wrk ends by itself after `seconds`
 * at the latest (or on `stop()`); it is killed (by PID) if it overruns by 15 s.
 */
export function startWrk(ns: string, opts: WrkOptions): WrkRun {
  const args = ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${opts.seconds}s`];
  if (opts.close) args.push('-H', 'Connection: close');
  args.push(opts.url);
  const child = nsSpawn(ns, 'wrk', args);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 15) * 1000);
  const done = new Promise<WrkResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${err}${out}`));
      else resolve(parseWrk(out));
    });
  });
  return { child, done, stop: () => child.kill('SIGINT') };
}
