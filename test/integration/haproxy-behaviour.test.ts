import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import { after, before, describe, it } from 'node:test';
import { renderSite, writeFiles } from '../../src/build/build.ts';
import { compile } from '../../src/compile.ts';
import { diskFs, load } from '../../src/load/index.ts';
import { instancePaths } from '../../src/render/haproxy/paths.ts';
import type { NodeLayout } from '../../src/render/types.ts';
import { eventually, NsFixture } from '../helpers/ns-fixture.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

// The generated HAProxy configs, run for real: one namespace, every address on its
// loopback, lab backends, curl as the client from its own address.
const SITE = new URL('./sites/behaviour/', import.meta.url).pathname;
const CLIENT = '198.18.200.5';
const VIPS = [
  '198.18.100.1',
  '198.18.100.2',
  '198.18.100.3',
  '198.18.100.4',
  '198.18.100.5',
  '198.18.100.6',
  '198.18.100.7',
];
const HOSTS = [
  '198.18.10.11',
  '198.18.10.12',
  '198.18.10.21',
  '198.18.10.22',
  '198.18.10.31',
  '198.18.10.32',
];

describe('generated HAProxy configs behave as intended', { timeout: 120_000 }, () => {
  let fx: NsFixture;
  let curl: string;
  const controls = new Map<string, string>();

  const get = (args: string[]): { status: number; headers: string; body: string } => {
    const out = fx.exec(curl, ['-sk', '--max-time', '5', '--interface', CLIENT, '-D', '-', ...args]);
    const split = out.indexOf('\r\n\r\n');
    const headers = out.slice(0, split);
    return { status: Number(headers.split(' ')[1]), headers, body: out.slice(split + 4) };
  };
  const tcpLine = (vip: string, port: number): string =>
    fx
      .exec(curl, ['-s', '--max-time', '1', '--interface', CLIENT, `telnet://${vip}:${port}`], 5000)
      .split('\n')[0] ?? '';
  const tcpLineSafe = (vip: string, port: number): string => {
    try {
      return tcpLine(vip, port);
    } catch (e) {
      // curl ends telnet sessions by timeout (exit 28); what it printed is still there
      return String((e as { stdout?: string }).stdout ?? '').split('\n')[0] ?? '';
    }
  };

  before(async () => {
    requireRoot();
    const haproxy = requireTool('haproxy');
    curl = requireTool('curl');
    fx = new NsFixture([...VIPS, ...HOSTS, CLIENT, '198.18.0.11']);
    for (const [host, addr] of [
      ['web1', '198.18.10.11'],
      ['web2', '198.18.10.12'],
      ['users1', '198.18.10.21'],
      ['users2', '198.18.10.22'],
    ]) {
      controls.set(host!, await fx.backend(host!, [`http:${addr}:8080`]));
    }
    for (const [host, addr] of [
      ['mx1', '198.18.10.31'],
      ['mx2', '198.18.10.32'],
    ]) {
      controls.set(
        host!,
        await fx.backend(host!, [`tcp:${addr}:7000`, `tcp:${addr}:7001`, `smtp:${addr}:2525`]),
      );
    }
    const l = load(diskFs(SITE));
    const c = await compile(l.value, { now: new Date() });
    assert.ok(c.model, c.diagnostics.map((d) => d.message).join('\n'));
    const layout: NodeLayout = { etc: fx.mkdir('etc'), run: fx.mkdir('run'), state: fx.mkdir('state') };
    fx.mkdir('run', 'haproxy');
    fx.mkdir('state', 'haproxy');
    const [node] = renderSite(c.model, l.value.sources, l.value.certs, layout);
    writeFiles(layout.etc, node!.files);
    for (const inst of c.model.instances) {
      const p = instancePaths(layout, inst.name);
      fx.spawn(haproxy, ['-W', '-db', '-f', p.config]);
      await eventually(() => existsSync(p.adminSocket), 10_000, `haproxy ${inst.name} admin socket`);
    }
  });

  after(async () => {
    await fx?.close();
  });

  it('ssl_redirect: port 80 answers 301 for GET and 308 for POST, to https', () => {
    const g = get([
      'http://redirect.behaviour.example/a?b=1',
      '--resolve',
      'redirect.behaviour.example:80:198.18.100.1',
    ]);
    assert.equal(g.status, 301);
    assert.match(g.headers, /location: https:\/\/redirect\.behaviour\.example\/a\?b=1/i);
    const p = get([
      '-X',
      'POST',
      'http://redirect.behaviour.example/form',
      '--resolve',
      'redirect.behaviour.example:80:198.18.100.1',
    ]);
    assert.equal(p.status, 308);
  });

  it('https answers from a backend with X-Forwarded-For = the client, X-Forwarded-Proto https, and HSTS absent unless asked', () => {
    const r = get([
      'https://redirect.behaviour.example/',
      '--resolve',
      'redirect.behaviour.example:443:198.18.100.1',
    ]);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { host: string; headers: Record<string, string> };
    assert.match(body.host, /^web[12]$/);
    assert.equal(body.headers['x-forwarded-for'], CLIENT);
    assert.equal(body.headers['x-forwarded-proto'], 'https');
    assert.doesNotMatch(r.headers, /strict-transport-security/i, 'no hsts: in this site');
  });

  it('ssl_redirect false: port 80 is passed to the backend unchanged (X-Forwarded-Proto http)', () => {
    const r = get(['http://pass.behaviour.example/x', '--resolve', 'pass.behaviour.example:80:198.18.100.2']);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(body.headers['x-forwarded-proto'], 'http');
    assert.equal(body.headers['x-forwarded-for'], CLIENT);
  });

  it('path routes reach their own backend; everything else the default one', () => {
    for (let i = 0; i < 4; i++) {
      const users = JSON.parse(
        get(['http://198.18.100.3/v1/users/42', '-H', 'Host: api.behaviour.example']).body,
      ) as { host: string };
      assert.match(users.host, /^users[12]$/);
      const other = JSON.parse(
        get(['http://198.18.100.3/v2/things', '-H', 'Host: api.behaviour.example']).body,
      ) as { host: string };
      assert.match(other.host, /^web[12]$/);
    }
  });

  it('cookie persistence: a client with the cookie stays on its server', () => {
    const first = get(['http://198.18.100.4/']);
    const cookie = /set-cookie: (SRVID=[^;]+)/i.exec(first.headers)?.[1];
    assert.ok(cookie, `no persistence cookie in ${first.headers}`);
    const host = (JSON.parse(first.body) as { host: string }).host;
    for (let i = 0; i < 6; i++) {
      const r = get(['http://198.18.100.4/', '-H', `Cookie: ${cookie}`]);
      assert.equal((JSON.parse(r.body) as { host: string }).host, host);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++)
      seen.add((JSON.parse(get(['http://198.18.100.4/']).body) as { host: string }).host);
    assert.equal(seen.size, 2, 'without the cookie, round robin spreads requests');
  });

  it('PROXY v2 tells a TCP backend the client address', () => {
    const line = tcpLineSafe('198.18.100.5', 7000);
    assert.match(line, new RegExp(`^mx[12] 7000 ${CLIENT.replaceAll('.', '\\.')}$`));
  });

  it('SMTP greets through the VIP, with PROXY v1 carrying the client', () => {
    const line = tcpLineSafe('198.18.100.7', 25);
    assert.match(line, /^220 mx[12] /);
  });

  it('backup server takes over when the primary fails, and hands back when it returns', async () => {
    assert.match(tcpLineSafe('198.18.100.6', 7001), /^mx1 /);
    fx.exec(process.execPath, ['-e', controlScript(controls.get('mx1')!, 'mode refuse')]);
    try {
      await eventually(
        () => tcpLineSafe('198.18.100.6', 7001).startsWith('mx2 '),
        10_000,
        'backup takes over',
      );
    } finally {
      fx.exec(process.execPath, ['-e', controlScript(controls.get('mx1')!, 'mode ok')]);
    }
    await eventually(
      () => tcpLineSafe('198.18.100.6', 7001).startsWith('mx1 '),
      10_000,
      'primary takes back',
    );
  });

  it('the monitor URI answers 200 while a VIP has servers, 503 when all are down', async () => {
    const mon = (): number => get(['http://198.18.100.6:8999/_intentlb/health']).status;
    assert.equal(mon(), 200);
    for (const h of ['mx1', 'mx2'])
      fx.exec(process.execPath, ['-e', controlScript(controls.get(h)!, 'mode refuse')]);
    try {
      await eventually(() => mon() === 503, 10_000, 'monitor fails');
    } finally {
      for (const h of ['mx1', 'mx2'])
        fx.exec(process.execPath, ['-e', controlScript(controls.get(h)!, 'mode ok')]);
    }
    await eventually(() => mon() === 200, 10_000, 'monitor recovers');
  });
});

function controlScript(socket: string, line: string): string {
  return `const s=require('node:net').connect(${JSON.stringify(socket)});s.on('connect',()=>s.write(${JSON.stringify(`${line}\n`)}));s.on('data',()=>s.end());setTimeout(()=>process.exit(1),3000).unref();`;
}
