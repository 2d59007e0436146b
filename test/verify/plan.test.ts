import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Model } from '../../src/model/index.ts';
import { type PlannedCheck, planChecks, planContext, VerifyUsageError } from '../../src/verify/index.ts';
import { campus } from '../helpers/campus.ts';

// The client of the lab (198.19.0.2) plus an address outside every allow list of the site.
const CLIENT = ['127.0.0.1', '198.19.0.2', '2001:db8:ffff::2', '203.0.113.9'];

const names = (ps: readonly PlannedCheck[], service: string): string[] =>
  ps.filter((p) => p.service === service).map((p) => p.check);
const spec = <T>(ps: readonly PlannedCheck[], service: string, check: string): T => {
  const p = ps.find((x) => x.service === service && x.check === check);
  assert.ok(p, `${service} ${check} is planned`);
  return p.spec as T;
};

describe('verify plan: the promises of examples/campus', () => {
  let model: Model;
  let plan: PlannedCheck[];
  before(async () => {
    model = await campus();
    plan = planChecks(planContext(model, { revision: 'r1', local: CLIENT }));
  });

  it('derives each service its checks, from the table', () => {
    const table: Record<string, string[]> = {
      'web/typo3/www': [
        'port:80',
        'port:443',
        'port:80/v6',
        'port:443/v6',
        'tls:versions',
        'tls:alpn',
        'tls:cert',
        'redirect:https',
        'hsts',
        'sticky',
        'forwarded',
      ],
      'web/wiki': ['port:80', 'port:443', 'tls:versions', 'tls:alpn', 'tls:cert', 'hsts', 'forwarded'],
      'it/api': [
        'port:80',
        'port:443',
        'tls:versions',
        'tls:alpn',
        'tls:cert',
        'redirect:https',
        'hsts',
        'route:/v1/users',
        'route:/v2/',
        'forwarded',
      ],
      'it/status': ['port:80', 'redirect:/'],
      'it/mail/imaps': ['port:993', 'tls:versions', 'tls:cert'],
      'it/ldap': ['port:389', 'proxy'],
      'it/mail/smtp': ['port:25', 'proxy'],
      'library/pg': ['port:5432', 'allow'],
      'research/mirror': ['port:80/v6', 'forwarded'],
      'web/intranet': [
        'port:80',
        'port:443',
        'tls:versions',
        'tls:alpn',
        'tls:cert',
        'redirect:https',
        'hsts',
        'forwarded',
        'allow',
      ],
    };
    for (const [service, checks] of Object.entries(table))
      assert.deepEqual(names(plan, service), checks, service);
    assert.equal(
      plan.some((p) => ['health', 'announce', 'revision'].includes(p.check)),
      false,
      'node checks only when asked',
    );
  });

  it('names the route backend, the redirect, HSTS and TLS policy of the intent', () => {
    const route = spec<{ path: string; tls: boolean; servers: { name: string; port: number }[] }>(
      plan,
      'it/api',
      'route:/v1/users',
    );
    assert.equal(route.path, '/v1/users');
    assert.equal(route.tls, true);
    assert.deepEqual(
      route.servers.map((s) => `${s.name}:${s.port}`),
      ['api1:8001', 'api2:8001'],
    );
    const https = spec<{ code: number; location: string; endpoint: { port: number } }>(
      plan,
      'it/api',
      'redirect:https',
    );
    assert.equal(https.code, 301);
    assert.equal(https.endpoint.port, 80);
    assert.equal(https.location, 'https://api.campus.example/intentlb-verify?probe=1');
    const status = spec<{ code: number; location: string }>(plan, 'it/status', 'redirect:/');
    assert.deepEqual([status.code, status.location], [301, 'https://www.campus.example/status']);
    assert.equal(spec<{ maxAge: number }>(plan, 'research/gitlab', 'hsts').maxAge, 63072000);
    const v = spec<{ accept: string[]; refuse: string[] }>(plan, 'web/wiki', 'tls:versions');
    assert.deepEqual(v.refuse, ['TLSv1', 'TLSv1.1']);
    assert.deepEqual(v.accept, ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(spec<{ fqdns: string[] }>(plan, 'web/typo3/www', 'tls:cert').fqdns, [
      'www.campus.example',
      'campus.example',
    ]);
  });

  it('probes an allow-listed service from inside its list, and from outside for the allow check', () => {
    const port = spec<{ endpoint: { source?: string } }>(plan, 'library/pg', 'port:5432');
    assert.equal(port.endpoint.source, '198.19.0.2');
    const allow = spec<{ outside: { endpoint: { source: string; port: number } } }>(
      plan,
      'library/pg',
      'allow',
    );
    assert.equal(allow.outside.endpoint.source, '203.0.113.9', 'not loopback: it cannot reach a remote VIP');
    assert.equal(allow.outside.endpoint.port, 5432);
    const none = planChecks(planContext(model, { revision: 'r1', local: ['198.19.0.2'] }));
    assert.ok('skipped' in spec<object>(none, 'library/pg', 'allow'), 'no outside address: skipped, said so');
    const free = spec<{ endpoint: { source?: string } }>(plan, 'web/wiki', 'port:443');
    assert.equal(free.endpoint.source, undefined, 'no allow list: the kernel picks');
  });

  it('--node adds the monitor checks; --bird the announcements; roots the revisions', () => {
    const onNode = planChecks(
      planContext(model, {
        revision: 'r1',
        node: 'lb1',
        local: ['127.0.0.1', '198.18.0.11'],
        bird: '/run/bird.ctl',
        roots: new Map([['lb1', '/']]),
      }),
      ['it/api', 'web/typo3/www'],
    );
    assert.deepEqual(names(onNode, 'it/api').slice(-2), ['health', 'announce']);
    assert.deepEqual(spec<{ endpoint: { port: number } }>(onNode, 'it/api', 'health').endpoint.port, 8999);
    const a6 = spec<{ prefix: string; nodes: { name: string; nextHop: string }[] }>(
      onNode,
      'web/typo3/www',
      'announce/v6',
    );
    assert.deepEqual(a6, {
      socket: '/run/bird.ctl',
      prefix: '2001:db8:100::10/128',
      nodes: [{ name: 'lb1', nextHop: '2001:db8::11' }],
    });
    assert.equal(
      spec<{ outside: { endpoint: { source: string } } }>(
        planChecks(planContext(model, { revision: 'r1', node: 'lb1', local: ['127.0.0.1', '198.18.0.11'] })),
        'web/intranet',
        'allow',
      ).outside.endpoint.source,
      '127.0.0.1',
      'on the node, loopback reaches its own VIP from outside the list',
    );
    assert.deepEqual(spec(onNode, 'node:lb1', 'revision'), { root: '/', revision: 'r1' });
    const site = planChecks(planContext(model, { revision: 'r1', local: CLIENT, bird: '/b' }), ['it/api']);
    assert.deepEqual(
      spec<{ nodes: { name: string }[] }>(site, 'it/api', 'announce').nodes.map((n) => n.name),
      ['lb1', 'lb2'],
    );
  });

  it('refuses an unknown node or service, and --node away from the node', () => {
    assert.throws(() => planContext(model, { revision: 'r', node: 'lb9', local: [] }), VerifyUsageError);
    assert.throws(
      () => planContext(model, { revision: 'r', services: ['web/nope'], local: [] }),
      VerifyUsageError,
    );
    assert.throws(() => planContext(model, { revision: 'r', node: 'lb1', local: CLIENT }), VerifyUsageError);
  });

  it('is pure: the same model and vantage give the same plan', () => {
    assert.deepEqual(planChecks(planContext(model, { revision: 'r1', local: CLIENT })), plan);
  });
});
