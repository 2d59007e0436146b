import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { Agent, type IncomingMessage, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { runControlCommand, startControl } from '../../src/lab/backend/control.ts';
import { formatListenSpec, parseListenSpec } from '../../src/lab/backend/listen-spec.ts';
import { decodeSearchEntry } from '../../src/lab/backend/protocols/ldap.ts';
import { encodeProxyV1, encodeProxyV2 } from '../../src/lab/backend/proxy-encode.ts';
import { type BackendHandle, startBackend } from '../../src/lab/backend/server.ts';
import { generateSelfSigned, type TlsMaterial } from '../../src/lab/backend/tls.ts';
import type { ListenSpec, Protocol } from '../../src/lab/backend/types.ts';
import { freePort, requireTool, withTempDir } from '../helpers/tools.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

const LOCALHOST = '127.0.0.1';
const spec = (protocol: Protocol, tls = false): ListenSpec => ({
  protocol,
  address: LOCALHOST,
  port: 0,
  tls,
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw TCP conversation: collects what the server sends, waits for it with a bound. */
class Conversation {
  received: Buffer = Buffer.alloc(0);
  closed = false;
  readonly socket: Socket;
  #waiters = new Set<() => void>();

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const s = connect(port, LOCALHOST, () => resolve(new Conversation(s)));
      s.once('error', reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `pred(received)` holds (or the socket closes); fails after `ms`. */
  async until(pred: (b: Buffer) => boolean, ms = 3000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (!pred(this.received)) {
      if (this.closed)
        throw new Error(`closed; received ${JSON.stringify(this.received.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out; received ${JSON.stringify(this.received.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.#waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
    return this.received;
  }

  async untilText(needle: string, ms?: number): Promise<string> {
    return (await this.until((b) => b.toString('latin1').includes(needle), ms)).toString('latin1');
  }

  async untilClosed(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await sleep(10);
    }
  }

  take(): Buffer {
    const b = this.received;
    this.received = Buffer.alloc(0);
    return b;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Opens a conversation, runs `fn`, always closes it. */
async function talk<T>(port: number, fn: (c: Conversation) => Promise<T>): Promise<T> {
  const c = await Conversation.open(port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

interface HttpResult {
  status: number;
  body: Record<string, unknown>;
  res: IncomingMessage;
  /** The request went out on a kept-alive connection. */
  reused: boolean;
  /** The client side's port of the connection used. */
  localPort: number | undefined;
}

function httpGet(
  port: number,
  path = '/',
  headers: Record<string, string> = {},
  agent?: Agent,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: LOCALHOST, port, path, headers, agent: agent ?? false, timeout: 3000 },
      (res) => {
        const localPort = res.socket.localPort;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text),
            res,
            reused: req.reusedSocket,
            localPort,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('HTTP timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A raw HTTP/1.1 request after `prefix` (e.g. a PROXY header); resolves with the JSON body. */
async function rawHttp(port: number, prefix: Buffer | string): Promise<Record<string, unknown>> {
  return talk(port, async (c) => {
    c.send(
      Buffer.concat([
        Buffer.from(prefix),
        Buffer.from('GET /raw HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n'),
      ]),
    );
    await c.untilClosed();
    const text = c.received.toString('utf8');
    assert.match(text, /^HTTP\/1\.1 200 /);
    return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  });
}

// ---------------------------------------------------------------------------------------------

describe('listen specs', () => {
  it('parses IPv4, bracketed IPv6 and :tls', () => {
    assert.deepEqual(parseListenSpec('http:198.18.1.10:8080'), {
      protocol: 'http',
      address: '198.18.1.10',
      port: 8080,
      tls: false,
    });
    assert.deepEqual(parseListenSpec('smtp:[2001:db8::5]:25:tls'), {
      protocol: 'smtp',
      address: '2001:db8::5',
      port: 25,
      tls: true,
    });
    for (const s of ['http:198.18.1.10:8080', 'redis:[2001:db8::5]:6379:tls', 'tcp:0.0.0.0:0'])
      assert.equal(formatListenSpec(parseListenSpec(s)), s);
  });

  it('rejects bad specs with a reason', () => {
    for (const bad of [
      'ftp:1.2.3.4:21',
      'http:2001:db8::5:80',
      'http:[1.2.3.4]:80',
      'http:1.2.3.4:65536',
      'http:1.2.3.4',
      'http:host.example:80',
      'http:1.2.3.4:80:ssl',
    ])
      assert.throws(() => parseListenSpec(bad), /bad listen spec/, bad);
  });
});

describe('backend server, in-process', () => {
  let backend: BackendHandle;
  let tls: TlsMaterial;
  const port = (protocol: Protocol, wantTls = false): number => {
    const l = backend.listeners.find((x) => x.protocol === protocol && x.tls === wantTls);
    assert.ok(l, `no ${protocol} listener`);
    return l.port;
  };

  before(async () => {
    requireTool('openssl');
    tls = await generateSelfSigned('web1', [LOCALHOST]);
    const protocols: Protocol[] = ['http', 'smtp', 'ldap', 'mysql', 'pgsql', 'redis', 'imap', 'pop3', 'tcp'];
    backend = await startBackend({
      host: 'web1',
      listen: [...protocols.map((p) => spec(p)), spec('http', true), spec('smtp', true)],
      tls,
    });
  });
  after(async () => {
    await backend?.close();
  });

  describe('http', () => {
    it('answers any method and path with the JSON description', async () => {
      const { status, body, res } = await httpGet(port('http'), '/some/path?q=1', { 'X-Test': 'yes' });
      assert.equal(status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(body.host, 'web1');
      assert.equal(body.port, port('http'));
      assert.equal(body.client, LOCALHOST);
      assert.equal((body.headers as Record<string, string>)['x-test'], 'yes');
      assert.equal(body.proxy, undefined);
      assert.equal(body.tls, undefined);
      const post = await rawHttp(port('http'), '');
      assert.equal(post.host, 'web1');
    });

    it('keeps connections alive between requests', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const first = await httpGet(port('http'), '/1', {}, agent);
        const second = await httpGet(port('http'), '/2', {}, agent);
        assert.equal(first.status, 200);
        assert.equal(second.status, 200);
        assert.equal(second.reused, true);
        assert.equal(first.localPort, second.localPort);
      } finally {
        agent.destroy();
      }
    });

    it('takes the client from a PROXY v1 header', async () => {
      const body = await rawHttp(port('http'), 'PROXY TCP4 192.0.2.10 198.18.1.10 40000 80\r\n');
      assert.equal(body.client, '192.0.2.10');
      assert.deepEqual(body.proxy, {
        version: 1,
        source: '192.0.2.10',
        sourcePort: 40000,
        destination: '198.18.1.10',
        destinationPort: 80,
      });
      const v6 = await rawHttp(
        port('http'),
        encodeProxyV1({
          source: '2001:db8::7',
          sourcePort: 1,
          destination: '2001:db8::5',
          destinationPort: 2,
        }),
      );
      assert.equal(v6.client, '2001:db8::7');
    });

    it('takes the client from a PROXY v2 header, TLVs skipped', async () => {
      const header = encodeProxyV2({
        command: 'proxy',
        addresses: {
          source: '2001:db8::7',
          sourcePort: 5555,
          destination: '2001:db8::5',
          destinationPort: 8080,
        },
        tlvs: [{ type: 0x01, value: Buffer.from('http/1.1') }],
      });
      const body = await rawHttp(port('http'), header);
      assert.equal(body.client, '2001:db8::7');
      assert.deepEqual(body.proxy, {
        version: 2,
        source: '2001:db8::7',
        sourcePort: 5555,
        destination: '2001:db8::5',
        destinationPort: 8080,
      });
    });

    it('uses the TCP peer for a v2 LOCAL header and v1 UNKNOWN', async () => {
      const local = await rawHttp(port('http'), encodeProxyV2({ command: 'local' }));
      assert.equal(local.client, LOCALHOST);
      assert.equal(local.proxy, undefined);
      const unknown = await rawHttp(port('http'), 'PROXY UNKNOWN\r\n');
      assert.equal(unknown.client, LOCALHOST);
    });

    it('reassembles a PROXY header split across segments', async () => {
      const header = encodeProxyV2({
        command: 'proxy',
        addresses: {
          source: '198.18.0.9',
          sourcePort: 1234,
          destination: '198.18.1.10',
          destinationPort: 80,
        },
      });
      await talk(port('http'), async (c) => {
        c.send(header.subarray(0, 7));
        await sleep(50);
        c.send(header.subarray(7, 20));
        await sleep(50);
        c.send(Buffer.concat([header.subarray(20), Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')]));
        const text = await c.untilText('}');
        assert.match(text, /"client":"198\.18\.0\.9"/);
      });
    });

    it('drops a connection with a malformed PROXY header', async () => {
      await talk(port('http'), async (c) => {
        c.send('PROXY TCP4 not-an-address 1.2.3.4 1 2\r\nGET / HTTP/1.1\r\n\r\n');
        await c.untilClosed();
        assert.equal(c.received.length, 0);
      });
    });

    it('speaks TLS after an optional PROXY header', async () => {
      const direct = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = httpsRequest(
          { host: LOCALHOST, port: port('http', true), path: '/', rejectUnauthorized: false, agent: false },
          (res) => {
            let t = '';
            res.on('data', (d: Buffer) => {
              t += d.toString();
            });
            res.on('end', () => resolve(JSON.parse(t)));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(direct.tls, true);
      assert.equal(direct.client, LOCALHOST);

      const raw = await new Promise<Socket>((resolve, reject) => {
        const s = connect(port('http', true), LOCALHOST, () => resolve(s));
        s.once('error', reject);
      });
      try {
        raw.write(
          encodeProxyV1({
            source: '192.0.2.44',
            sourcePort: 4,
            destination: '192.0.2.1',
            destinationPort: 443,
          }),
        );
        const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'web1' });
        const c = new Conversation(secure as unknown as Socket);
        await new Promise<void>((resolve, reject) => {
          secure.once('secureConnect', () => resolve());
          secure.once('error', reject);
        });
        assert.match(String(secure.getPeerCertificate().subject?.CN), /web1/);
        c.send('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
        const text = await c.untilText('}');
        const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
        assert.equal(body.tls, true);
        assert.equal(body.client, '192.0.2.44');
      } finally {
        raw.destroy();
      }
    });

    it('answers 503 in mode fail503, nothing in silent, refuses in refuse; recovers on ok', async () => {
      try {
        await backend.setMode('fail503');
        const failed = await httpGet(port('http'));
        assert.equal(failed.status, 503);
        assert.equal(failed.body.host, 'web1');
        assert.equal(typeof failed.body.error, 'string');

        await backend.setMode('silent');
        await talk(port('http'), async (c) => {
          c.send('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
          await sleep(300);
          assert.equal(c.received.length, 0);
          assert.equal(c.closed, false);
        });

        const httpPort = port('http');
        await backend.setMode('refuse');
        await assert.rejects(Conversation.open(httpPort), /ECONNREFUSED/);
        assert.equal(backend.status().mode, 'refuse');

        await backend.setMode('ok');
        assert.equal(port('http'), httpPort);
        assert.equal((await httpGet(httpPort)).status, 200);
      } finally {
        await backend.setMode('ok');
      }
    });

    it('switches an open keep-alive connection to 503 and back', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        assert.equal((await httpGet(port('http'), '/', {}, agent)).status, 200);
        await backend.setMode('fail503');
        const failed = await httpGet(port('http'), '/', {}, agent);
        assert.equal(failed.status, 503);
        assert.equal(failed.reused, true);
      } finally {
        await backend.setMode('ok');
        agent.destroy();
      }
    });
  });

  describe('smtp', () => {
    it('greets, answers EHLO/HELO, takes a message, says goodbye', async () => {
      await talk(port('smtp'), async (c) => {
        assert.equal(await c.untilText('\r\n'), '220 web1 ESMTP intentlb-lab\r\n');
        c.take();
        c.send('EHLO client.example\r\n');
        const ehlo = await c.untilText('250 HELP\r\n');
        assert.match(ehlo, /^250-web1 /);
        c.take();
        c.send('HELO localhost\r\n');
        assert.equal(await c.untilText('\r\n'), '250 web1\r\n');
        c.take();
        c.send('MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n');
        await c.untilText('354 ');
        c.take();
        c.send('Subject: hi\r\n\r\nbody\r\n.\r\nNOOP\r\nVRFY x\r\nQUIT\r\n');
        const tail = await c.untilText('221 ');
        assert.match(tail, /^250 .*\r\n250 .*\r\n502 .*\r\n221 /);
        await c.untilClosed();
      });
    });

    it('greets with PROXY v1 and over TLS', async () => {
      await talk(port('smtp'), async (c) => {
        c.send('PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n');
        assert.match(await c.untilText('\r\n'), /^220 web1 /);
      });
      const secure = tlsConnect({ host: LOCALHOST, port: port('smtp', true), rejectUnauthorized: false });
      try {
        const c = new Conversation(secure as unknown as Socket);
        assert.match(await c.untilText('\r\n'), /^220 web1 /);
      } finally {
        secure.destroy();
      }
    });

    it('answers 421 and closes in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('smtp'), async (c) => {
          assert.match(await c.untilText('\r\n'), /^421 /);
          await c.untilClosed();
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('ldap', () => {
    const haproxyBind = Buffer.from('300c020101600702010304008000', 'hex');

    it("answers HAProxy's anonymous bind with success, then closes on unbind", async () => {
      await talk(port('ldap'), async (c) => {
        c.send(haproxyBind);
        const res = await c.until((b) => b.length >= 14);
        assert.equal(res.toString('hex'), '300c02010161070a010004000400');
        c.send(Buffer.from('30050201024200', 'hex'));
        await c.untilClosed();
      });
    });

    it('keeps a multi-byte message id and answers a search', async () => {
      await talk(port('ldap'), async (c) => {
        // messageID 300, simple bind as "cn=a" with password "p"
        c.send(Buffer.from('30120202012c600c0201030404636e3d61800170', 'hex'));
        assert.equal(
          (await c.until((b) => b.length >= 15)).toString('hex'),
          '300d0202012c61070a010004000400',
        );
        c.take();
        // messageID 2, a search request (its body is not looked at)
        c.send(Buffer.from('300c020102630704000a01000a0100', 'hex'));
        assert.equal((await c.until((b) => b.length >= 14)).toString('hex'), '300c02010265070a010004000400');
      });
    });

    it('describes the session for a search under cn=session: host, port and the PROXY client', async () => {
      await talk(port('ldap'), async (c) => {
        c.send(
          encodeProxyV2({
            command: 'proxy',
            addresses: {
              source: '198.18.0.77',
              sourcePort: 1,
              destination: '198.18.1.10',
              destinationPort: 389,
            },
          }),
        );
        // messageID 2, search with baseObject "cn=session" (the rest is not looked at)
        c.send(Buffer.from('30170201026312040a636e3d73657373696f6e0a01000a0100', 'hex'));
        const res = await c.until((b) => b.includes(Buffer.from('02010265', 'hex')));
        assert.equal(res.subarray(2, 5).toString('hex'), '020102');
        assert.equal(res[5], 0x64, 'a searchResultEntry first');
        assert.deepEqual(decodeSearchEntry(res), {
          host: 'web1',
          port: String(port('ldap')),
          client: '198.18.0.77',
        });
      });
    });

    it('sends a notice of disconnection for unsupported operations', async () => {
      await talk(port('ldap'), async (c) => {
        // messageID 3, a modifyRequest (0x66), which this server does not do
        c.send(Buffer.from('300702010366020400', 'hex'));
        await c.untilClosed();
        const res = c.received;
        assert.equal(res.subarray(0, 1).toString('hex'), '30');
        assert.equal(res.subarray(2, 6).toString('hex'), '02010078'); // messageID 0, extendedResponse
        assert.ok(res.includes(Buffer.from('1.3.6.1.4.1.1466.20036')));
      });
    });

    it('answers unavailable (52) in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('ldap'), async (c) => {
          c.send(haproxyBind);
          const res = await c.until((b) => b.length >= 14);
          assert.equal(res.subarray(2, 6).toString('hex'), '02010161');
          assert.equal(res.subarray(7, 10).toString('hex'), '0a0134');
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('mysql', () => {
    // Exactly what HAProxy 2.6 sends for `option mysql-check user haproxy post-41`: the handshake
    // response (sequence 1) and COM_QUIT (sequence 0), in one segment, without waiting for the greeting.
    const haproxyCheck = Buffer.from(
      '290000010082000000800001210000000000000000000000000000000000000000000000686170726f787900000100000001',
      'hex',
    );

    it('greets with a protocol-10 handshake, accepts the login, closes on COM_QUIT', async () => {
      await talk(port('mysql'), async (c) => {
        const hs = await c.until((b) => b.length >= 4 && b.length >= 4 + b.readUIntLE(0, 3));
        const length = hs.readUIntLE(0, 3);
        assert.equal(hs[3], 0, 'sequence 0');
        assert.equal(hs[4], 10, 'protocol version 10');
        assert.match(hs.subarray(5, hs.indexOf(0, 5)).toString(), /intentlb-lab/);
        assert.ok(hs.subarray(4, 4 + length).includes(Buffer.from('mysql_native_password\0')));
        c.take();
        c.send(haproxyCheck);
        await c.untilClosed();
        assert.equal(c.received.toString('hex'), '0700000200000002000000');
      });
    });

    it('answers COM_PING after login', async () => {
      await talk(port('mysql'), async (c) => {
        await c.until((b) => b.length >= 4 && b.length >= 4 + b.readUIntLE(0, 3));
        c.take();
        c.send(haproxyCheck.subarray(0, 45));
        await c.until((b) => b.length >= 11);
        c.take();
        c.send(Buffer.from('010000000e', 'hex'));
        assert.equal((await c.until((b) => b.length >= 11)).toString('hex'), '0700000100000002000000');
      });
    });

    it('sends an error packet and closes in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('mysql'), async (c) => {
          await c.untilClosed();
          assert.equal(c.received[4], 0xff);
          assert.equal(c.received.readUInt16LE(5), 1053);
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('pgsql', () => {
    // Exactly what HAProxy 2.6 sends for `option pgsql-check user haproxy`.
    const haproxyStartup = Buffer.from('00000016000300007573657200686170726f78790000', 'hex');

    it('declines SSL, trusts the startup message, ends with ReadyForQuery; Terminate closes', async () => {
      await talk(port('pgsql'), async (c) => {
        c.send(Buffer.from('0000000804d2162f', 'hex'));
        assert.equal((await c.until((b) => b.length >= 1)).toString(), 'N');
        c.take();
        c.send(haproxyStartup);
        const res = await c.until((b) => b.subarray(-6).toString('hex') === '5a0000000549');
        assert.equal(res.subarray(0, 9).toString('hex'), '520000000800000000');
        assert.ok(res.includes(Buffer.from('server_version\0')));
        c.take();
        c.send(Buffer.from('510000000d73656c656374203100', 'hex')); // Q "select 1"
        const q = await c.until((b) => b.subarray(-6).toString('hex') === '5a0000000549');
        assert.equal(String.fromCharCode(q[0]!), 'E');
        c.send(Buffer.from('5800000004', 'hex'));
        await c.untilClosed();
      });
    });

    it('answers an ErrorResponse and closes in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('pgsql'), async (c) => {
          c.send(haproxyStartup);
          await c.untilClosed();
          assert.equal(String.fromCharCode(c.received[0]!), 'E');
          assert.ok(c.received.includes(Buffer.from('C57P03\0')));
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('redis', () => {
    it('answers PING (RESP and inline), ECHO, unknown commands and QUIT', async () => {
      await talk(port('redis'), async (c) => {
        c.send('*1\r\n$4\r\nPING\r\n');
        assert.equal(await c.untilText('\r\n'), '+PONG\r\n');
        c.take();
        c.send('ping\r\n');
        assert.equal(await c.untilText('\r\n'), '+PONG\r\n');
        c.take();
        c.send('*2\r\n$4\r\nECHO\r\n$5\r\nhel');
        await sleep(20);
        c.send('lo\r\n');
        assert.equal(await c.untilText('hello\r\n'), '$5\r\nhello\r\n');
        c.take();
        c.send('GET key\r\n');
        assert.match(await c.untilText('\r\n'), /^-ERR unknown command 'GET'/);
        c.take();
        c.send('QUIT\r\n');
        assert.equal(await c.untilText('\r\n'), '+OK\r\n');
        await c.untilClosed();
      });
    });

    it('answers -ERR in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('redis'), async (c) => {
          c.send('*1\r\n$4\r\nPING\r\n');
          assert.match(await c.untilText('\r\n'), /^-ERR /);
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('tcp', () => {
    it('says who it is and whom it sees, then echoes', async () => {
      await talk(port('tcp'), async (c) => {
        assert.equal(await c.untilText('\n'), `web1 ${port('tcp')} ${LOCALHOST}\n`);
        c.take();
        c.send('hello\n');
        assert.equal(await c.untilText('hello\n'), 'hello\n');
      });
    });

    it('reports the PROXY v2 source', async () => {
      await talk(port('tcp'), async (c) => {
        c.send(
          encodeProxyV2({
            command: 'proxy',
            addresses: {
              source: '198.18.0.77',
              sourcePort: 1,
              destination: '198.18.1.10',
              destinationPort: 9,
            },
          }),
        );
        assert.equal(await c.untilText('\n'), `web1 ${port('tcp')} 198.18.0.77\n`);
      });
    });

    it('closes at once in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('tcp'), async (c) => {
          await c.untilClosed();
          assert.equal(c.received.length, 0);
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('imap and pop3', () => {
    it('greet as HAProxy expects (* OK / +OK) with the client seen, answer and close on LOGOUT/QUIT', async () => {
      await talk(port('imap'), async (c) => {
        assert.match(await c.untilText('\r\n'), new RegExp(`^\\* OK .*web1 .*client ${LOCALHOST}`));
        c.take();
        c.send('a1 CAPABILITY\r\na2 FETCH 1\r\na3 LOGOUT\r\n');
        assert.match(await c.untilText('a3 OK'), /a1 OK[\s\S]*a2 BAD[\s\S]*\* BYE/);
        await c.untilClosed();
      });
      await talk(port('pop3'), async (c) => {
        c.send('PROXY TCP4 198.18.0.9 198.18.1.10 1000 110\r\n');
        assert.match(await c.untilText('\r\n'), /^\+OK web1 .*client 198\.18\.0\.9/);
        c.take();
        c.send('NOOP\r\nQUIT\r\n');
        assert.match(await c.untilText('signing off'), /^\+OK\r\n\+OK web1 signing off/);
        await c.untilClosed();
      });
    });

    it('refuse and close in mode fail503', async () => {
      try {
        await backend.setMode('fail503');
        await talk(port('imap'), async (c) => {
          assert.match(await c.untilText('\r\n'), /^\* BYE /);
          await c.untilClosed();
        });
        await talk(port('pop3'), async (c) => {
          assert.match(await c.untilText('\r\n'), /^-ERR /);
          await c.untilClosed();
        });
      } finally {
        await backend.setMode('ok');
      }
    });
  });

  describe('control socket', () => {
    it('answers status and mode lines with JSON', async () => {
      await withTempDir(async (dir) => {
        const path = join(dir, 'control.sock');
        const control = await startControl(path, backend);
        try {
          const lines = await unixExchange(path, 'status\nmode fail503\nmode bogus\nfly\nmode ok\n', 5);
          const [status, fail, bogus, unknown, ok] = lines.map((l) => JSON.parse(l));
          assert.equal(status.ok, true);
          assert.equal(status.status.host, 'web1');
          assert.equal(status.status.mode, 'ok');
          assert.equal(status.status.listeners.length, backend.listeners.length);
          assert.deepEqual(fail, { ok: true, mode: 'fail503' });
          assert.equal(bogus.ok, false);
          assert.equal(unknown.ok, false);
          assert.deepEqual(ok, { ok: true, mode: 'ok' });
          assert.equal(backend.mode, 'ok');
        } finally {
          await control.close();
          await backend.setMode('ok');
        }
        assert.equal(existsSync(path), false);
      });
    });

    it('runs commands directly', async () => {
      assert.deepEqual(await runControlCommand(backend, 'mode silent'), { ok: true, mode: 'silent' });
      assert.deepEqual(await runControlCommand(backend, '  mode   ok '), { ok: true, mode: 'ok' });
      assert.equal(((await runControlCommand(backend, 'mode ok extra')) as { ok: boolean }).ok, false);
    });
  });
});

/** Sends `text` to a unix socket, resolves with the first `count` answer lines. */
function unixExchange(path: string, text: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout; got ${JSON.stringify(got)}`));
    }, 5000);
    s.on('data', (d: Buffer) => {
      got += d.toString();
      const lines = got.split('\n').filter((l) => l !== '');
      if (lines.length >= count) {
        clearTimeout(timer);
        s.destroy();
        resolve(lines.slice(0, count));
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.write(text);
  });
}

// ---------------------------------------------------------------------------------------------
// The program, as the lab runs it

const ROOT = new URL('../..', import.meta.url).pathname;

/** Stops a child process by its PID: SIGTERM, then SIGKILL after `ms`; resolves with its exit code. */
async function stopChild(child: ChildProcess, ms = 3000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the first stdout line of `child` (bounded). */
function firstLine(child: ChildProcess, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no output; stderr: ${err}`)), ms);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}; stderr: ${err}`));
    });
  });
}

/** Retries `probe` every 100 ms until it returns true; fails after `ms` with `describe()`. */
async function eventually(probe: () => Promise<boolean>, ms: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms: ${describe()}`);
    await sleep(100);
  }
}

describe('backend program (main.ts)', () => {
  it('serves, obeys its control socket and SIGUSR1, exits 0 on SIGTERM', async () => {
    requireTool('openssl');
    await withTempDir(async (dir) => {
      const material = await generateSelfSigned('cli1', [LOCALHOST]);
      writeFileSync(join(dir, 'cert.pem'), material.cert);
      writeFileSync(join(dir, 'key.pem'), material.key);
      const controlPath = join(dir, 'control.sock');
      const args = ['--host', 'cli1', '--listen', 'http:127.0.0.1:0', '--listen', 'http:127.0.0.1:0:tls'];
      args.push(
        '--control',
        controlPath,
        '--tls-cert',
        join(dir, 'cert.pem'),
        '--tls-key',
        join(dir, 'key.pem'),
      );
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/lab/backend/main.ts', ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const ready = JSON.parse(await firstLine(child));
        assert.equal(ready.event, 'ready');
        assert.equal(ready.host, 'cli1');
        assert.equal(ready.control, controlPath);
        const [plain, tlsSpec] = (ready.listen as string[]).map(parseListenSpec);
        assert.ok(plain && tlsSpec && plain.port > 0 && tlsSpec.tls);
        assert.equal((await httpGet(plain.port)).body.host, 'cli1');

        const [answer] = await unixExchange(controlPath, 'mode fail503\n', 1);
        assert.deepEqual(JSON.parse(answer ?? ''), { ok: true, mode: 'fail503' });
        assert.equal((await httpGet(plain.port)).status, 503);

        child.kill('SIGUSR1');
        await eventually(
          async () => (await httpGet(plain.port)).status === 200,
          5000,
          () => 'SIGUSR1 ignored',
        );

        assert.equal(await stopChild(child), 0);
        assert.equal(existsSync(controlPath), false, 'control socket removed');
        await assert.rejects(Conversation.open(plain.port), /ECONNREFUSED/);
      } finally {
        await stopChild(child);
      }
    });
  });

  it('exits 2 with the usage on a bad command line', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/lab/backend/main.ts', '--host', 'x', '--listen', 'gopher:1.2.3.4:70'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 2);
      assert.match(err, /protocol must be one of/);
      assert.match(err, /usage:/);
    } finally {
      await stopChild(child);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real HAProxy health checks against the backend

/** Sends one command to HAProxy's stats socket, resolves with the whole answer. */
function statsCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('stats socket timeout'));
    }, 2000);
    s.on('data', (d: Buffer) => {
      out += d.toString();
    });
    s.on('end', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.end(`${command}\n`);
  });
}

interface ServerState {
  status: string;
  check: string;
}

/** `show stat` as backend name → its one server's status and last check status. */
async function serverStates(statsPath: string): Promise<Map<string, ServerState>> {
  const lines = (await statsCommand(statsPath, 'show stat')).split('\n').filter((l) => l !== '');
  const head = (lines[0] ?? '').replace(/^# /, '').split(',');
  const col = (name: string): number => head.indexOf(name);
  const states = new Map<string, ServerState>();
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[col('svname')] === 'FRONTEND' || f[col('svname')] === 'BACKEND') continue;
    states.set(f[col('pxname')] ?? '', {
      status: f[col('status')] ?? '',
      check: f[col('check_status')] ?? '',
    });
  }
  return states;
}

describe('real HAProxy 2.6 health checks', () => {
  it('pass in mode ok, fail in fail503/silent/refuse, recover in ok', async () => {
    const haproxy = requireTool('haproxy');
    requireTool('openssl');
    await withTempDir(async (dir) => {
      const checked: [string, ListenSpec, string, string][] = [
        ['smtp', spec('smtp'), 'tcp', 'option smtpchk'],
        ['ldap', spec('ldap'), 'tcp', 'option ldap-check'],
        ['mysql', spec('mysql'), 'tcp', 'option mysql-check user haproxy post-41'],
        ['pgsql', spec('pgsql'), 'tcp', 'option pgsql-check user haproxy'],
        ['redis', spec('redis'), 'tcp', 'option redis-check'],
        [
          'imap',
          spec('imap'),
          'tcp',
          'option tcp-check\n  tcp-check connect\n  tcp-check expect rstring ^\\*\\ OK',
        ],
        ['pop3', spec('pop3'), 'tcp', 'option tcp-check\n  tcp-check connect\n  tcp-check expect string +OK'],
        ['http', spec('http'), 'http', 'option httpchk GET /\n  http-check expect status 200'],
        ['http_pp2', spec('http'), 'http', 'option httpchk GET /\n  http-check expect status 200'],
        ['http_pp1', spec('http'), 'http', 'option httpchk GET /\n  http-check expect status 200'],
        ['https_pp2', spec('http', true), 'http', 'option httpchk GET /\n  http-check expect status 200'],
      ];
      const serverOptions: Record<string, string> = {
        http_pp2: 'check-send-proxy send-proxy-v2',
        http_pp1: 'check-send-proxy send-proxy',
        https_pp2: 'check-send-proxy send-proxy-v2 ssl verify none',
      };
      const backend = await startBackend({ host: 'web1', listen: checked.map(([, s]) => s) });
      let child: ChildProcess | null = null;
      let output = '';
      try {
        const frontPort = await freePort();
        const statsPath = join(dir, 'stats.sock');
        const sections = checked.map(([name, , mode, options], i) =>
          [
            `backend ${name}`,
            `  mode ${mode}`,
            `  ${options}`,
            `  server s1 ${LOCALHOST}:${backend.listeners[i]!.port} check inter 200 rise 1 fall 1 ${serverOptions[name] ?? ''}`,
          ].join('\n'),
        );
        const cfg = [
          'global',
          `  stats socket ${statsPath} mode 600 level admin`,
          'defaults',
          '  timeout connect 1s',
          '  timeout client 5s',
          '  timeout server 5s',
          '  timeout check 1s',
          'frontend fe',
          '  mode http',
          `  bind ${LOCALHOST}:${frontPort}`,
          '  option forwardfor',
          '  default_backend http_pp2',
          ...sections,
          '',
        ].join('\n');
        const cfgPath = join(dir, 'haproxy.cfg');
        writeFileSync(cfgPath, cfg);
        child = spawn(haproxy, ['-f', cfgPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout?.on('data', (d: Buffer) => {
          output += d.toString();
        });
        child.stderr?.on('data', (d: Buffer) => {
          output += d.toString();
        });

        let last = new Map<string, ServerState>();
        const expectAll = async (want: string, checks: readonly string[] | null): Promise<void> =>
          eventually(
            async () => {
              last = await serverStates(statsPath);
              if (last.size !== checked.length) return false;
              return [...last.values()].every(
                (s) => s.status === want && (checks === null || checks.some((c) => s.check.includes(c))),
              );
            },
            10_000,
            () => `want ${want} ${checks ?? ''}: ${JSON.stringify([...last])}\nhaproxy: ${output}`,
          );

        await expectAll('UP', ['L7OK']);

        // Real traffic through HAProxy, with a PROXY v2 header (send-proxy-v2) in front of it.
        const viaHaproxy = await httpGet(frontPort, '/through');
        assert.equal(viaHaproxy.status, 200);
        assert.equal(viaHaproxy.body.client, LOCALHOST);
        const proxy = viaHaproxy.body.proxy as Record<string, unknown>;
        assert.equal(proxy.version, 2);
        assert.equal(proxy.destinationPort, frontPort);
        assert.equal((viaHaproxy.body.headers as Record<string, string>)['x-forwarded-for'], LOCALHOST);

        await backend.setMode('fail503');
        await expectAll('DOWN', ['L7STS', 'L7RSP']); // protocol-level answers, not timeouts
        await backend.setMode('ok');
        await expectAll('UP', ['L7OK']);
        await backend.setMode('silent');
        await expectAll('DOWN', ['TOUT']);
        await backend.setMode('ok');
        await expectAll('UP', ['L7OK']);
        await backend.setMode('refuse');
        await expectAll('DOWN', ['L4CON']);
        await backend.setMode('ok');
        await expectAll('UP', ['L7OK']);
      } finally {
        if (child !== null) await stopChild(child);
        await backend.close();
      }
    });
  });
});
