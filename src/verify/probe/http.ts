/** One HTTP/1.1 request to a probed endpoint (over TLS when asked), without following redirects. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Endpoint, ProbeEnv } from '../types.ts';
import { reasonOf } from './stream.ts';

export interface HttpAsk {
  tls: boolean;
  /** Host header and TLS server name. */
  host: string;
  path: string;
  method?: string;
}

export type HttpAnswer =
  | {
      ok: true;
      status: number;
      headers: IncomingHttpHeaders;
      body: string;
      local: string;
      /** Over TLS: the version negotiated and the certificate served. */
      tls?: { protocol: string; cert: PeerCertificate };
    }
  | { ok: false; reason: string };

const MAX_BODY = 64 * 1024;

export function httpGet(
  ep: Endpoint,
  ask: HttpAsk,
  timeoutMs: number,
  own?: (s: Socket) => void,
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: HttpAnswer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const options = {
      host: ep.address,
      port: ep.port,
      path: ask.path,
      method: ask.method ?? 'GET',
      agent: false as const,
      headers: { host: ask.host, 'user-agent': 'intentlb-verify', connection: 'close' },
      ...(ep.source !== undefined && { localAddress: ep.source }),
      ...(ask.tls && { servername: ask.host, rejectUnauthorized: false }),
    };
    const req = (ask.tls ? httpsRequest : httpRequest)(options, (res) => {
      const local = res.socket?.localAddress ?? '';
      const t = ask.tls ? (res.socket as TLSSocket) : undefined;
      const tls = t && { protocol: t.getProtocol() ?? '', cert: t.getPeerCertificate() };
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= MAX_BODY) chunks.push(d);
      });
      res.on('end', () =>
        finish({
          ok: true,
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          local,
          ...(tls && { tls }),
        }),
      );
      res.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, reason: reasonOf(e) }));
    });
    const timer = setTimeout(
      () => finish({ ok: false, reason: `no HTTP answer within ${timeoutMs} ms` }),
      timeoutMs,
    ).unref();
    if (own) req.on('socket', own);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, reason: reasonOf(e) }));
    req.end();
  });
}

/** The lab backends' self-description (`{host, port, client, headers}`), when the body is one. */
export interface Echo {
  host: string;
  port: number;
  client: string;
  headers: Record<string, string>;
}

export function echoOf(body: string): Echo | undefined {
  try {
    const e = JSON.parse(body) as Partial<Echo>;
    return typeof e.host === 'string' && typeof e.port === 'number' && typeof e.headers === 'object'
      ? (e as Echo)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `httpGet` once per run for the same request: the checks that read one answer (the port's status,
 * HSTS, the sticky cookie, X-Forwarded-For) share it instead of each making a TLS connection.
 */
export function sharedGet(env: ProbeEnv, ep: Endpoint, ask: HttpAsk): Promise<HttpAnswer> {
  const key = `GET ${ask.tls ? 'https' : 'http'} ${ep.source ?? '*'}>${ep.address}:${ep.port} ${ask.host} ${ask.method ?? 'GET'} ${ask.path}`;
  return env.shared(key, () => httpGet(ep, ask, env.timeoutMs, env.own));
}
