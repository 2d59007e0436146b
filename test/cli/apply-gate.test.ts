import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedServices, gateApply } from '../../src/cli/apply-gate.ts';
import type { ApplyResult } from '../../src/deploy/apply.ts';
import type { Model } from '../../src/model/index.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { compileFiles } from '../helpers/site.ts';

async function model(): Promise<Model> {
  const r = await compileFiles(BASE_SITE);
  assert.ok(r.model, JSON.stringify(r.all));
  return r.model;
}

function applied(_m: Model, touched: string[], degraded: string[] = []): ApplyResult {
  return {
    ok: true,
    generation: 2,
    degraded,
    plan: {
      files: [],
      actions: [
        ...touched.map((instance) => ({
          kind: 'reload' as const,
          instance,
          reason: 'configuration changed',
        })),
        { kind: 'stop' as const, instance: 'gone', reason: 'removed' },
      ],
    },
  } as ApplyResult & { plan: { actions: unknown[] } } as ApplyResult;
}

const instanceOf = (m: Model, service: string): string =>
  m.instances.find((i) => i.services.includes(service))!.name;

describe('apply after the change: degraded services and --verify', () => {
  it('names the services of the instances it started, reloaded or changed at run time', async () => {
    const m = await model();
    assert.deepEqual(changedServices(applied(m, [instanceOf(m, 'web/www')]), m), ['web/www']);
  });

  it('a changed service with no server up ends apply with exit 1, unless --allow-degraded', async () => {
    const m = await model();
    const inst = instanceOf(m, 'web/www');
    const r = applied(m, [inst], [inst]);
    const strict = await gateApply(r, m, 'rev', '/', {
      node: 'lb1',
      verify: false,
      allowDegraded: false,
      ownsNetwork: true,
    });
    assert.equal(strict.exit, 1);
    assert.match(strict.messages.join('\n'), /web\/www/);
    const lenient = await gateApply(r, m, 'rev', '/', {
      node: 'lb1',
      verify: false,
      allowDegraded: true,
      ownsNetwork: true,
    });
    assert.equal(lenient.exit, 0);
  });

  it('a clean change without --verify exits 0', async () => {
    const m = await model();
    const g = await gateApply(applied(m, [instanceOf(m, 'web/www')]), m, 'rev', '/', {
      node: 'lb1',
      verify: false,
      allowDegraded: false,
      ownsNetwork: true,
    });
    assert.deepEqual(g, { exit: 0, messages: [] });
  });

  it('--verify probes only the changed services from this node, and a failure asks for a rollback', async () => {
    // The VIP moved to a loopback address where nothing listens (check refuses such a VIP, so the
    // model is edited): every probe stays on this machine and is refused at once.
    const compiled = await model();
    const m: Model = {
      ...compiled,
      services: compiled.services.map((s) => (s.id === 'web/www' ? { ...s, vip: '127.0.0.55' } : s)),
    };
    const g = await gateApply(applied(m, [instanceOf(m, 'web/www')]), m, 'rev', '/nonexistent-root', {
      node: 'lb1',
      verify: true,
      allowDegraded: false,
      ownsNetwork: true,
      verifyOptions: { local: ['198.18.0.11'], timeoutMs: 300, deadlineMs: 3000 },
    });
    assert.equal(g.exit, 1);
    assert.ok(g.failedVerify);
    assert.deepEqual(
      [...new Set(g.failedVerify.results.map((r) => r.service))].filter((s) => !s.startsWith('node:')),
      ['web/www'],
    );
    assert.ok(g.failedVerify.results.some((r) => r.check.startsWith('port:') && !r.ok));
  });

  it('--verify is skipped (said so) where this process does not hold the VIPs', async () => {
    const m = await model();
    const g = await gateApply(applied(m, [instanceOf(m, 'web/www')]), m, 'rev', '/', {
      node: 'lb1',
      verify: true,
      allowDegraded: false,
      ownsNetwork: false,
    });
    assert.equal(g.exit, 0);
    assert.match(g.messages.join('\n'), /skipped/);
  });

  it('a failed apply is reported by apply itself: the gate adds exit 1 and nothing else', async () => {
    const m = await model();
    const g = await gateApply({ ...applied(m, []), ok: false } as ApplyResult, m, 'rev', '/', {
      node: 'lb1',
      verify: true,
      allowDegraded: false,
      ownsNetwork: true,
    });
    assert.deepEqual(g, { exit: 1, messages: [] });
  });
});
