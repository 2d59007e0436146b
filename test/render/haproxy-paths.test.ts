import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderSite } from '../../src/build/build.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { compileFiles, withFiles, yaml } from '../helpers/site.ts';
import { freePort, requireTool, withTempDir } from '../helpers/tools.ts';

// Path prefixes and redirect targets as a real HAProxy applies them: the service's frontend and
// backends, as rendered, behind a bind on 127.0.0.1; each backend answers with its own name
// instead of proxying, so a request shows which route took it.

const SERVICE = yaml(
  'fqdn: www.test.example',
  'vip: 198.18.100.10',
  'backend: { group: app, port: 8080 }',
  'routes:',
  '  - { path_prefix: /api, backend: { group: db, port: 9000 } }',
  'redirects:',
  '  - { path_prefix: /old, to: /new, keep_path: true, code: 301 }',
  '  - { path_prefix: /dir/, to: "https://x.test.example/", keep_path: true, code: 302 }',
  '  - { path_prefix: /enc, to: "/a%20b%[env(HOME)]", code: 302 }',
);

/** The `frontend fe_*` and `backend be_*` sections of a rendered HAProxy file, made runnable here. */
function runnable(cfg: string, port: number): string {
  const sections = cfg.split(/\n(?=\S)/).filter((s) => /^(frontend fe_|backend be_)/.test(s));
  assert.ok(sections.length >= 2, cfg);
  const body = sections
    .map((s) =>
      s
        .replace(/^ {4}bind .*$/gm, `    bind 127.0.0.1:${port}`)
        .replace(/^ {4}load-server-state-from-file .*\n/gm, '')
        .replace(
          /^(backend \S+)\n/,
          '$1\n    http-request return status 200 content-type text/plain lf-string %b\n',
        ),
    )
    .join('\n');
  return `global\n    log stdout format raw local0 info\ndefaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n${body}\n`;
}

describe('path prefixes and redirects through a real haproxy', () => {
  let proc: ChildProcess | undefined;
  let base = '';
  let cleanup: () => void = () => {};

  before(async () => {
    const haproxy = requireTool('haproxy');
    const run = await compileFiles(withFiles(BASE_SITE, { 'services/web/www.yaml': SERVICE }));
    assert.ok(run.model, JSON.stringify(run.all));
    const [node] = renderSite(run.model, run.loaded.sources, run.loaded.certs);
    const file = node!.files.find((f) => f.path.startsWith('haproxy/') && f.content.includes('fe_web-www'))!;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await new Promise<void>((resolve, reject) => {
      withTempDir(async (dir) => {
        const cfg = join(dir, 'h.cfg');
        writeFileSync(cfg, runnable(file.content, port));
        proc = spawn(haproxy, ['-db', '-f', cfg], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { HOME: '/secret-home' },
        });
        let err = '';
        proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        proc.once('exit', (code) => reject(new Error(`haproxy exited ${code}: ${err}`)));
        for (let i = 0; i < 100; i++) {
          try {
            await fetch(`${base}/`);
            resolve();
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        // Keep the directory until the test ends.
        await new Promise<void>((r) => (cleanup = r));
      }).catch(reject);
    });
  });

  after(() => {
    if (proc?.pid !== undefined) {
      proc.removeAllListeners('exit');
      process.kill(proc.pid);
    }
    cleanup();
  });

  async function get(path: string): Promise<{ status: number; location: string | null; body: string }> {
    const r = await fetch(`${base}${path}`, { redirect: 'manual' });
    return { status: r.status, location: r.headers.get('location'), body: await r.text() };
  }

  it('a route prefix matches whole path segments', async () => {
    for (const p of ['/api', '/api/', '/api/users', '/api?x=1'])
      assert.equal((await get(p)).body, 'be_web-www_route1', p);
    for (const p of ['/apis', '/apiary/x', '/', '/x/api']) assert.equal((await get(p)).body, 'be_web-www', p);
  });

  it('keep_path replaces the matched prefix and keeps the query', async () => {
    const cases: [string, string][] = [
      ['/old', '/new'],
      ['/old/', '/new/'],
      ['/old/page', '/new/page'],
      ['/old/a/b?q=1', '/new/a/b?q=1'],
      ['/old?q=1', '/new?q=1'],
      ['/dir/x', 'https://x.test.example/x'],
      ['/dir/', 'https://x.test.example/'],
    ];
    for (const [from, to] of cases) {
      const r = await get(from);
      assert.equal(r.location, to, from);
    }
    assert.equal((await get('/old/page')).status, 301);
    assert.equal((await get('/oldies')).body, 'be_web-www', '/oldies is not below /old');
    assert.equal((await get('/dir')).body, 'be_web-www', '/dir/ matches below /dir/ only');
  });

  it('a redirect target is a literal: % escapes stay, %[...] is not evaluated', async () => {
    const r = await get('/enc');
    assert.equal(r.status, 302);
    assert.equal(r.location, '/a%20b%[env(HOME)]');
  });
});

describe('check.expect', () => {
  it('is a string the answer must contain, quoted, that haproxy -c accepts', async () => {
    const haproxy = requireTool('haproxy');
    const expects = ['ok[', 'a.b', `it's "up" # 100% {ok}; $HOME \\`];
    for (const expect of expects) {
      const service = yaml(
        'vip: 198.18.100.10',
        'backend:',
        '  group: app',
        '  port: 8080',
        `  check: { type: http, path: /health, expect: ${JSON.stringify(expect)} }`,
      );
      const run = await compileFiles(withFiles(BASE_SITE, { 'services/web/www.yaml': service }));
      assert.ok(run.model, JSON.stringify(run.all));
      const [node] = renderSite(run.model, run.loaded.sources, run.loaded.certs);
      const file = node!.files.find((f) => f.content.includes('backend be_web-www'))!;
      const line = file.content.split('\n').find((l) => l.includes('http-check expect'))!;
      assert.match(line, /^ {4}http-check expect string /, line);
      await withTempDir(async (dir) => {
        const cfg = join(dir, 'h.cfg');
        writeFileSync(cfg, runnable(file.content, await freePort()));
        const r = spawnSync(haproxy, ['-c', '-f', cfg], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${expect}: ${r.stderr}${r.stdout}`);
      });
    }
  });
});
