import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { httpCheck, runCheck, statusFromBytes, tcpCheck } from '../../src/healthd/checks.ts';

interface TestServer {
  port: number;
  /** Drops open connections (the silent server's) and closes. */
  stop(): Promise<void>;
}

/** A raw TCP server whose connections `onConn` handles. */
async function serve(host: string, onConn: (s: Socket) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {}); // the checker resets connections on purpose
    s.on('close', () => sockets.delete(s));
    onConn(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers every request with the given status line, then closes. */
function answering(status: string): (s: Socket) => void {
  return (s) => {
    s.once('data', () => s.end(`${status}\r\nContent-Length: 0\r\n\r\n`));
  };
}

async function hasIPv6Loopback(): Promise<boolean> {
  try {
    await (await serve('::1', () => {})).stop();
    return true;
  } catch {
    return false;
  }
}

describe('healthd checks', { timeout: 20_000 }, () => {
  const servers: TestServer[] = [];
  const ports: Record<string, number> = {};
  let requests: string[] = [];

  before(async () => {
    const add = async (name: string, onConn: (s: Socket) => void, host = '127.0.0.1') => {
      const server = await serve(host, onConn);
      servers.push(server);
      ports[name] = server.port;
    };
    await add('ok', (s) => {
      s.once('data', (d) => {
        requests.push(d.toString('latin1'));
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    await add('nocontent', answering('HTTP/1.0 204 No Content'));
    await add('unavailable', answering('HTTP/1.1 503 Service Unavailable'));
    await add('redirect', answering('HTTP/1.1 301 Moved Permanently'));
    await add('silent', () => {});
    await add('garbage', (s) => s.once('data', () => s.end('SSH-2.0-OpenSSH_9.2\r\n')));
    await add('endless', (s) => s.once('data', () => s.write('H'.repeat(4096))));
    await add('hangup', (s) => s.once('data', () => s.end()));
    await add('split', (s) => {
      s.once('data', async () => {
        for (const part of ['HT', 'TP/1.1 2', '00', ' OK\r', '\nContent-Length: 0\r\n\r\n']) {
          s.write(part);
          await sleep(15);
        }
        s.end();
      });
    });
    // A port nobody listens on: bind one, then close it.
    const gone = await serve('127.0.0.1', () => {});
    await gone.stop();
    ports.refused = gone.port;
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  const http = (name: string, timeoutMs = 1000) =>
    httpCheck({ address: '127.0.0.1', port: ports[name]!, path: '/.intentlb/health', timeoutMs });

  it('200 is ok, and the request is a minimal HTTP/1.1 GET', async () => {
    requests = [];
    const r = await http('ok');
    assert.equal(r.ok, true, r.error);
    assert.equal(r.error, undefined);
    assert.ok(r.latencyMs >= 0 && r.latencyMs < 1000);
    assert.equal(
      requests[0],
      `GET /.intentlb/health HTTP/1.1\r\nHost: 127.0.0.1:${ports.ok}\r\nConnection: close\r\n` +
        'User-Agent: intentlb-healthd\r\n\r\n',
    );
  });

  it('any 2xx is ok, HTTP/1.0 too', async () => {
    assert.equal((await http('nocontent')).ok, true);
  });

  it('503 and 301 are not ok', async () => {
    const r = await http('unavailable');
    assert.equal(r.ok, false);
    assert.equal(r.error, 'HTTP 503');
    assert.equal((await http('redirect')).ok, false);
  });

  it('a status line split across chunks is parsed', async () => {
    const r = await http('split');
    assert.equal(r.ok, true, r.error);
    assert.ok(r.latencyMs >= 40, `waited for every chunk (${r.latencyMs} ms)`);
  });

  it('a server that never answers fails within the timeout', async () => {
    const t0 = performance.now();
    const r = await http('silent', 200);
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /timeout/);
    assert.ok(took >= 195 && took < 600, `took ${took} ms`);
  });

  it('connection refused is not ok, quickly', async () => {
    const r = await http('refused', 2000);
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /ECONNREFUSED/);
    assert.ok(r.latencyMs < 1000);
  });

  it('non-HTTP answers, endless lines and hang-ups are not ok', async () => {
    assert.match((await http('garbage')).error ?? '', /not an HTTP status line/);
    assert.match((await http('endless')).error ?? '', /no HTTP status line/);
    assert.match((await http('hangup')).error ?? '', /closed/);
  });

  it('bad input resolves, never throws', async () => {
    const r = await httpCheck({ address: '127.0.0.1', port: 70_000, path: '/', timeoutMs: 100 });
    assert.equal(r.ok, false);
    assert.ok(r.error);
    const u = await tcpCheck({ address: 'not an address', port: 80, timeoutMs: 300 });
    assert.equal(u.ok, false);
  });

  it('tcp: connect is ok, refused is not', async () => {
    assert.equal((await tcpCheck({ address: '127.0.0.1', port: ports.silent!, timeoutMs: 500 })).ok, true);
    const r = await tcpCheck({ address: '127.0.0.1', port: ports.refused!, timeoutMs: 500 });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /ECONNREFUSED/);
  });

  it('runCheck dispatches on the check kind', async () => {
    const ok = await runCheck({ kind: 'http', address: '127.0.0.1', port: ports.ok!, path: '/' }, 500);
    assert.equal(ok.ok, true);
    const tcp = await runCheck({ kind: 'tcp', address: '127.0.0.1', port: ports.refused! }, 500);
    assert.equal(tcp.ok, false);
  });

  it('many concurrent checks all settle', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => http('ok')));
    assert.equal(results.filter((r) => r.ok).length, 200);
  });

  it('IPv6 [::1] works, with a bracketed Host header', async (t) => {
    if (!(await hasIPv6Loopback())) {
      t.skip('no IPv6 loopback on this machine');
      return;
    }
    const seen: string[] = [];
    const server = await serve('::1', (s) => {
      s.once('data', (d) => {
        seen.push(d.toString('latin1'));
        s.end('HTTP/1.1 200 OK\r\n\r\n');
      });
    });
    const port = server.port;
    try {
      const r = await httpCheck({ address: '[::1]', port, path: '/', timeoutMs: 1000 });
      assert.equal(r.ok, true, r.error);
      assert.match(seen[0] ?? '', new RegExp(`\r\nHost: \\[::1\\]:${port}\r\n`));
      assert.equal((await tcpCheck({ address: '::1', port, timeoutMs: 500 })).ok, true);
    } finally {
      await server.stop();
    }
  });
});

describe('statusFromBytes (the fast path of an HTTP check)', () => {
  /** What the string path (a regex on the first line) makes of the same bytes; 0: no complete status line. */
  function byRegex(text: string): number {
    const eol = text.indexOf('\n');
    if (eol < 0) return 0;
    const m = /^HTTP\/\d(?:\.\d)? (\d{3})(?: |$)/.exec(text.slice(0, eol).replace(/\r$/, ''));
    return m === null ? 0 : Number(m[1]);
  }
  const cases: [string, number][] = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 200],
    ['HTTP/1.0 503 Service Unavailable\r\n', 503],
    ['HTTP/2 204\r\n', 204],
    ['HTTP/1 200\n', 200],
    ['HTTP/1.1 200', 0], // line not complete yet
    ['HTTP/1.1 200 OK', 0],
    ['HTTP/1.1 2000 OK\r\n', 0],
    ['HTTP/1.1 20 OK\r\n', 0],
    ['HTTP/x.1 200 OK\r\n', 0],
    ['SSH-2.0-OpenSSH_9.2\r\n', 0],
    ['http/1.1 200 OK\r\n', 0],
    ['HTTP/1.1 200\rX\n', 0],
    ['HTTP/1.1 200\r\n', 200],
  ];
  for (const [text, status] of cases) {
    it(`${JSON.stringify(text)} → ${status}`, () => {
      const buf = Buffer.from(text, 'latin1');
      assert.equal(statusFromBytes(buf, buf.length), status);
      assert.equal(byRegex(text), status);
    });
  }
  it('reads only the bytes received, never stale ones after them', () => {
    const buf = Buffer.alloc(64, 0x20);
    buf.write('HTTP/1.1 200 OK\r\n', 'latin1');
    assert.equal(statusFromBytes(buf, 12), 0, '"HTTP/1.1 200" so far');
    assert.equal(statusFromBytes(buf, 17), 200);
  });
  it('agrees with the regex on any bytes', () => {
    const tail = fc
      .array(fc.constantFrom('\r', '\n', ' ', 'O', 'K', '0', '\r\n'), { maxLength: 6 })
      .map((xs) => xs.join(''));
    const text = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('HTTP/1.1 ', 'HTTP/1.0 ', 'HTTP/2 ', 'HTTP/1. ', 'HTTX/1.1 ', 'HTTP/1.1  '),
          fc.stringMatching(/^[0-9]{2,4}$/),
          tail,
          fc.string({ maxLength: 8 }),
        )
        .map((parts) => parts.join('')),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const buf = Buffer.from(t, 'latin1');
        const said = buf.toString('latin1'); // what the bytes say
        // Same answer whenever the line is complete; the fast path never guesses.
        assert.equal(statusFromBytes(buf, buf.length), byRegex(said));
      }),
      { numRuns: 2000 },
    );
  });
});
