import assert from 'node:assert/strict';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, createServer as createNet } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createServer as createTls } from 'node:tls';
import type { PlannedCheck, VerifyResult } from '../../src/verify/index.ts';
import {
  GREETINGS,
  judgeLdapBind,
  judgeMysql,
  judgePg,
  ldapClient,
  WHOAMI,
} from '../../src/verify/probe/greetings.ts';
import { runChecks } from '../../src/verify/run.ts';
import { certBundle } from '../helpers/certs.ts';
import { requireTool } from '../helpers/tools.ts';

const LO = '127.0.0.1';
const port = (s: { address(): AddressInfo | string | null }): number => (s.address() as AddressInfo).port;
const listen = async <S extends { listen(p: number, h: string, cb: () => void): unknown }>(
  s: S,
): Promise<S> => {
  await new Promise<void>((r) => s.listen(0, LO, r));
  return s;
};
const run = (planned: PlannedCheck[], deadlineMs = 5000): Promise<VerifyResult[]> =>
  runChecks(planned, { timeoutMs: 1500, deadlineMs, concurrency: 8, now: new Date() });
const one = async (kind: string, spec: unknown): Promise<VerifyResult> =>
  (await run([{ service: 's', check: kind, kind, spec }]))[0]!;

describe('verify probes against real servers on 127.0.0.1', () => {
  const servers: { close(): unknown }[] = [];
  let echo: number;
  let tls12: number;
  let tls10: number;
  let cookieTls: number;
  let closed: number;
  let silent: number;
  const pem = (): string => certBundle(['www.example.test', 'example.test']);

  before(async () => {
    requireTool('openssl');
    // A lab-like backend: describes itself, sets no cookie, answers / with 200, /old with a redirect.
    const h: Server = createHttp((req, res) => {
      if (req.url?.startsWith('/old')) {
        res.writeHead(302, { location: `https://new.example.test${req.url}` }).end();
        return;
      }
      const body = {
        host: 'api1',
        port: req.url?.startsWith('/v1') ? 8001 : 8000,
        client: req.socket.remoteAddress,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    echo = port(await listen(h));
    const t12 = createTls(
      { key: pem(), cert: pem(), minVersion: 'TLSv1.2', ALPNProtocols: ['h2', 'http/1.1'] },
      (s) => s.end(),
    );
    tls12 = port(await listen(t12));
    // A drifted instance: TLS 1.0 allowed (and the ciphers it needs).
    const t10 = createTls(
      { key: pem(), cert: pem(), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
      (s) => s.end(),
    );
    tls10 = port(await listen(t10));
    const hs = createHttps({ key: pem(), cert: pem() }, (_req, res) => {
      res
        .writeHead(200, {
          'set-cookie': 'TYPO3LB=web1; path=/',
          'strict-transport-security': 'max-age=31536000',
        })
        .end('{}');
    });
    cookieTls = port(await listen(hs));
    const c = await listen(createNet());
    closed = port(c);
    c.close();
    const quiet = createNet(() => {});
    silent = port(await listen(quiet));
    servers.push(h, t12, t10, hs, quiet);
  });
  after(() => {
    for (const s of servers) s.close();
  });

  it('port: HTTP answers, and a refused port fails with the reason', async () => {
    const ok = await one('port', {
      endpoint: { address: LO, port: echo },
      protocol: 'http',
      tls: false,
      host: 'x',
    });
    assert.deepEqual([ok.ok, ok.detail], [true, 'HTTP 200']);
    const no = await one('port', {
      endpoint: { address: LO, port: closed },
      protocol: 'http',
      tls: false,
      host: 'x',
    });
    assert.deepEqual([no.ok, no.detail], [false, 'ECONNREFUSED']);
    const mute = await one('port', {
      endpoint: { address: LO, port: silent },
      protocol: 'smtp',
      tls: false,
      host: 'x',
    });
    assert.equal(mute.ok, false);
    const tcp = await one('port', {
      endpoint: { address: LO, port: silent },
      protocol: 'tcp',
      tls: false,
      host: 'x',
    });
    assert.equal(tcp.ok, true, 'plain TCP: a connection that stays open serves');
  });

  it('allow: passes when the port refuses, fails when it answers', async () => {
    const outside = (p: number) => ({
      outside: { endpoint: { address: LO, port: p, source: LO }, protocol: 'http', tls: false, host: 'x' },
      allow: ['198.18.0.0/15'],
    });
    assert.equal((await one('allow', outside(closed))).ok, true);
    assert.equal((await one('allow', outside(echo))).ok, false);
    const skipped = await one('allow', { skipped: 'no address' });
    assert.equal(skipped.ok, true);
    assert.match(skipped.detail, /^skipped:/);
  });

  it('tls:versions: a server that still accepts TLS 1.0 fails an intermediate policy; one that does not passes', async () => {
    const spec = (p: number) => ({
      endpoint: { address: LO, port: p },
      host: 'www.example.test',
      policy: 'intermediate',
      accept: ['TLSv1.2', 'TLSv1.3'],
      refuse: ['TLSv1', 'TLSv1.1'],
    });
    const good = await one('tls:versions', spec(tls12));
    assert.equal(good.ok, true, good.detail);
    const drift = await one('tls:versions', spec(tls10));
    assert.equal(drift.ok, false);
    assert.match(drift.detail, /TLSv1 ACCEPTED/);
  });

  it('tls:alpn and tls:cert', async () => {
    const target = { endpoint: { address: LO, port: tls12 }, host: 'www.example.test' };
    assert.equal((await one('tls:alpn', target)).ok, true);
    assert.equal((await one('tls:alpn', { ...target, endpoint: { address: LO, port: tls10 } })).ok, false);
    const cert = (fqdns: string[], days: number) =>
      one('tls:cert', { endpoint: target.endpoint, fqdns, days });
    assert.equal((await cert(['www.example.test', 'example.test'], 30)).ok, true);
    const other = await cert(['mail.example.test'], 30);
    assert.deepEqual([other.ok, other.detail], [false, 'mail.example.test NOT covered']);
    assert.equal((await cert(['www.example.test'], 400)).ok, false, 'expires within 400 days');
  });

  it('HTTP services: tls:versions and tls:cert read the shared GET, and still judge right', async () => {
    const endpoint = { address: LO, port: cookieTls };
    const r = await run([
      {
        service: 's',
        check: 'tls:versions',
        kind: 'tls:versions',
        spec: {
          endpoint,
          host: 'www.example.test',
          http: true,
          policy: 'modern',
          accept: ['TLSv1.3'],
          refuse: ['TLSv1', 'TLSv1.1', 'TLSv1.2'],
        },
      },
      {
        service: 's',
        check: 'tls:cert',
        kind: 'tls:cert',
        spec: { endpoint, fqdns: ['www.example.test', 'mail.example.test'], days: 30, http: true },
      },
    ]);
    assert.deepEqual(
      r.map((x) => x.ok),
      [false, false],
    );
    assert.match(r[0]!.detail, /TLSv1\.2 ACCEPTED/, "node's default server accepts TLS 1.2: not modern");
    assert.equal(r[1]!.detail, 'mail.example.test NOT covered');
  });

  it('route, forwarded, redirect, sticky, hsts from the answers', async () => {
    const http = { endpoint: { address: LO, port: echo }, tls: false, host: 'api.example.test' };
    const route = (path: string) =>
      one('route', { ...http, path, servers: [{ name: 'api1', address: '198.18.12.11', port: 8001 }] });
    assert.equal((await route('/v1/users')).ok, true);
    const wrong = await route('/v2/');
    assert.deepEqual([wrong.ok, wrong.detail], [false, '/v2/ → api1:8000, expected one of api1:8001']);
    assert.equal((await one('forwarded', { ...http, path: '/' })).ok, true);
    const redirect = (code: number) =>
      one('redirect', { ...http, path: '/old/x', code, location: 'https://new.example.test/old/x' });
    assert.equal((await redirect(302)).ok, true);
    assert.equal((await redirect(301)).ok, false);
    const tls = {
      endpoint: { address: LO, port: cookieTls },
      tls: true,
      host: 'www.example.test',
      path: '/',
    };
    assert.equal((await one('sticky', { ...tls, cookie: 'TYPO3LB' })).ok, true);
    assert.equal((await one('sticky', { ...http, path: '/', cookie: 'TYPO3LB' })).ok, false);
    assert.equal((await one('hsts', { ...tls, maxAge: 31536000 })).ok, true);
    assert.equal((await one('hsts', { ...tls, maxAge: 63072000 })).ok, false);
    assert.equal((await one('hsts', { ...tls, maxAge: undefined })).ok, false, 'none promised, one sent');
  });

  it('one deadline for the run: what has not finished then fails and the run returns', async () => {
    const slow = Array.from({ length: 3 }, (_, i) => ({
      service: `s${i}`,
      check: 'port:25',
      kind: 'port',
      spec: { endpoint: { address: LO, port: silent }, protocol: 'smtp', tls: false, host: 'x' },
    }));
    const t0 = Date.now();
    const r = await run(slow, 300);
    assert.ok(Date.now() - t0 < 1000, 'returned at the deadline, not after the probes timed out');
    assert.deepEqual(
      r.map((x) => x.ok),
      [false, false, false],
    );
    assert.match(r[0]!.detail, /deadline/);
  });
});

describe('verify greetings: what each protocol answers', () => {
  const table: [string, (b: Buffer) => { ok: boolean } | undefined, string, boolean | undefined][] = [
    ['ldap bind success', judgeLdapBind, '300c02010161070a010004000400', true],
    ['ldap bind invalidCredentials', judgeLdapBind, '300c02010161070a013104000400', false],
    ['ldap incomplete', judgeLdapBind, '300c020101', undefined],
    ['mysql greeting', judgeMysql, '080000000a382e302e333300', true],
    ['mysql error', judgeMysql, '12000000ff6a04486f737420697320626c6f636b6564', false],
    ['pgsql N', judgePg, '4e', true],
    ['pgsql garbage', judgePg, '48', false],
    ['smtp 220', GREETINGS.smtp.judge, Buffer.from('220 mx1 ESMTP\r\n').toString('hex'), true],
    ['smtp 554', GREETINGS.smtp.judge, Buffer.from('554 no\r\n').toString('hex'), false],
    ['imap', GREETINGS.imap.judge, Buffer.from('* OK ready\r\n').toString('hex'), true],
    ['redis PONG', GREETINGS.redis.judge, Buffer.from('+PONG\r\n').toString('hex'), true],
    [
      'redis NOAUTH',
      GREETINGS.redis.judge,
      Buffer.from('-NOAUTH Authentication required.\r\n').toString('hex'),
      true,
    ],
    ['redis other', GREETINGS.redis.judge, Buffer.from('HTTP/1.1 400\r\n').toString('hex'), false],
  ];
  for (const [name, judge, hex, want] of table) {
    it(name, () => assert.equal(judge(Buffer.from(hex, 'hex'))?.ok, want));
  }
});

describe('verify proxy: which client the server saw', () => {
  const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from([tag, body.length]), body]);
  };
  const str = (s: string): Buffer => tlv(0x04, Buffer.from(s, 'latin1'));
  const attr = (k: string, v: string): Buffer => tlv(0x30, str(k), tlv(0x31, str(v)));
  const done = Buffer.from('300c02010265070a010004000400', 'hex');
  const entry = tlv(
    0x30,
    Buffer.from('020102', 'hex'),
    tlv(0x64, str('cn=session'), tlv(0x30, attr('host', 'ldap1'), attr('client', '198.19.0.2'))),
  );

  it('LDAP: the client attribute of the session entry; none when the search finds nothing', () => {
    const bind = Buffer.from('300c02010161070a010004000400', 'hex');
    assert.equal(ldapClient(Buffer.concat([bind, entry, done])), '198.19.0.2');
    assert.equal(ldapClient(Buffer.concat([bind, done])), '');
    assert.equal(ldapClient(Buffer.concat([bind, entry.subarray(0, 10)])), undefined, 'incomplete: read on');
  });

  it('greetings and echo lines that name the client', () => {
    assert.equal(
      WHOAMI.imap!.client(Buffer.from('* OK mx1 intentlb-lab ready (client 198.19.0.2)\r\n')),
      '198.19.0.2',
    );
    assert.equal(WHOAMI.tcp!.client(Buffer.from('ezproxy1 3128 198.18.0.11\n')), '198.18.0.11');
    assert.equal(WHOAMI.smtp, undefined, 'SMTP servers do not say');
  });
});
