import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSite } from '../../src/build/build.ts';
import { bird, haproxy, icinga2, keepalived, nftables, RenderRefusal } from '../../src/render/quote/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { compileFiles, withFiles, yaml } from '../helpers/site.ts';

describe('quoting per target', () => {
  it('haproxy: names bare or refused, arguments strongly quoted, log-format literals with %%', () => {
    assert.equal(haproxy.word('be_web-www'), 'be_web-www');
    for (const bad of ['a b', 'a\nb', 'a)', 'a,b', 'é', ''])
      assert.throws(() => haproxy.word(bad), RenderRefusal);
    assert.equal(haproxy.arg('/a/b?c=d'), '/a/b?c=d');
    assert.equal(haproxy.arg(`it's "x" #1 $HOME`), `'it'\\''s "x" #1 $HOME'`);
    assert.equal(haproxy.arg('-i'), "'-i'");
    assert.throws(() => haproxy.arg('a\nb'), RenderRefusal);
    assert.throws(() => haproxy.arg('a\rb'), RenderRefusal);
    assert.equal(haproxy.text('two\nlines\u2028and\u0085more'), "'two lines and more'");
    assert.equal(haproxy.logFormat('/a%20%[env(HOME)]'), "'/a%%20%%[env(HOME)]'");
    assert.equal(haproxy.logFormat('/new', '%[pathq,bytes(4)]'), "'/new%[pathq,bytes(4)]'");
    for (const bad of ['-i', '}']) assert.throws(() => haproxy.pattern(bad), RenderRefusal);
  });

  it('nftables and BIRD have no escapes: a double quote or a line break is refused', () => {
    assert.equal(nftables.comment('web/www'), '"web/www"');
    for (const bad of ['a"b', 'a\nb', 'x'.repeat(129)])
      assert.throws(() => nftables.comment(bad), RenderRefusal);
    assert.equal(bird.str('peer rr1'), '"peer rr1"');
    for (const bad of ['a"b', 'a\nb', 'a\0b']) assert.throws(() => bird.str(bad), RenderRefusal);
    assert.equal(bird.symbol('web-www.x'), 'web_www_x');
  });

  it('icinga2: strings escaped, object names without `!`, notes keep their lines', () => {
    assert.equal(icinga2.str('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
    assert.throws(() => icinga2.str('a\0b'), RenderRefusal);
    assert.throws(() => icinga2.objectName('a!b'), RenderRefusal);
    assert.equal(icinga2.text('a\nb\u0001c'), '"a\\nb c"');
  });

  it('keepalived: plain tokens only', () => {
    assert.equal(keepalived.word('lb1'), 'lb1');
    for (const bad of ['a b', 'a#b', 'a!b', 'a"b', '{'])
      assert.throws(() => keepalived.word(bad), RenderRefusal);
  });
});

describe('monitoring.prometheus', () => {
  const exporter = async (prometheus: boolean): Promise<boolean> => {
    const service = yaml(
      'fqdn: www.test.example',
      'vip: 198.18.100.10',
      'backend: { group: app, port: 8080 }',
      `monitoring: { prometheus: ${prometheus} }`,
    );
    const run = await compileFiles(withFiles(BASE_SITE, { 'services/web/www.yaml': service }));
    assert.ok(run.model, JSON.stringify(run.all));
    const [node] = renderSite(run.model, run.loaded.sources, run.loaded.certs);
    const cfg = node!.files.find((f) => f.content.includes('frontend fe_web-www'))!.content;
    return cfg.includes('use-service prometheus-exporter');
  };

  it("governs the exporter of the service's instance", async () => {
    assert.equal(await exporter(true), true);
    assert.equal(await exporter(false), false);
  });
});
