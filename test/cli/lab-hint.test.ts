import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tryHint } from '../../src/cli/lab-command.ts';
import { campus } from '../helpers/campus.ts';

describe('lab up: the request to try from the client', () => {
  it("is a curl to the first HTTP service's VIP, with its scheme and port", async () => {
    const model = await campus();
    const first = model.services.find((s) => s.vip !== undefined && s.protocol === 'http')!;
    const l = first.listeners.find((x) => x.role === 'serve')!;
    const hint = tryHint(model)!;
    assert.match(hint, /^curl -sk https?:\/\//);
    assert.ok(hint.includes(first.vip!), hint);
    assert.ok(hint.startsWith(`curl -sk ${l.tls ? 'https' : 'http'}://`), hint);
  });

  it('is none for a site without HTTP: a curl to an LDAP VIP would only print an error', async () => {
    const model = await campus();
    for (const s of model.services) s.protocol = 'ldap';
    assert.equal(tryHint(model), undefined);
  });
});
