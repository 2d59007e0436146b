import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatNagios,
  formatPrometheus,
  reportJson,
  unhealthyServices,
  type VerifyReport,
} from '../../src/verify/index.ts';
import { cli } from '../lab/lab-client.ts';

const report: VerifyReport = {
  ok: false,
  revision: 'abc',
  results: [
    { service: 'web/wiki', check: 'port:443', ok: true, detail: 'HTTP 200', ms: 12 },
    { service: 'we"b\\x|y', check: 'tls:versions', ok: false, detail: 'TLSv1 ACCEPTED\nsecond line', ms: 40 },
  ],
};

describe('verify output formats', () => {
  it('json: exactly the pinned fields', () => {
    const j = JSON.parse(reportJson(report)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j), ['ok', 'revision', 'results']);
    assert.deepEqual(
      (j.results as object[]).map((r) => Object.keys(r)),
      [
        ['service', 'check', 'ok', 'detail'],
        ['service', 'check', 'ok', 'detail'],
      ],
    );
  });

  it('prometheus: one gauge per check, label values escaped', () => {
    const text = formatPrometheus(report);
    assert.match(text, /^intentlb_verify_check_ok\{service="web\/wiki",check="port:443"\} 1$/m);
    assert.match(text, /^intentlb_verify_check_ok\{service="we\\"b\\\\x\|y",check="tls:versions"\} 0$/m);
    assert.match(text, /^intentlb_verify_ok 0$/m);
    assert.match(text, /^intentlb_verify_info\{revision="abc"\} 1$/m);
    for (const line of text.trimEnd().split('\n'))
      assert.match(line, /^(# (HELP|TYPE) \S+ .+|\w+(\{.*\})? [\d.]+)$/);
  });

  it('nagios: one status line, no `|` but the perfdata one, one long line per failure', () => {
    const lines = formatNagios(report).trimEnd().split('\n');
    assert.match(lines[0]!, /^INTENT CRITICAL - 1 of 2 checks failed: .* \| checks=2 failed=1$/);
    assert.equal(lines[0]!.split('|').length, 2);
    assert.equal(lines.length, 2, 'a newline in a detail does not add a line');
    assert.match(
      formatNagios({ ...report, ok: true, results: [report.results[0]!] }),
      /^INTENT OK - 1 checks passed/,
    );
  });

  it('usage errors exit 2: unknown service, unknown node, --root without --node', async () => {
    const site = 'examples/campus';
    assert.equal((await cli(['verify', site, '--service', 'web/nope'])).code, 2);
    assert.equal((await cli(['verify', site, '--node', 'lb9'])).code, 2);
    assert.equal((await cli(['verify', site, '--root', '/tmp'])).code, 2);
    assert.equal((await cli(['verify', site, '--format', 'xml'])).code, 2);
    assert.equal((await cli(['verify', site, '--timeout', 'soon'])).code, 2);
  });

  it('unhealthyServices: the services whose health check failed, once each', () => {
    const r = (service: string, check: string, ok: boolean) => ({ service, check, ok, detail: '', ms: 1 });
    const results = [
      r('b/x', 'health', false),
      r('a/y', 'port:80', false),
      r('a/y', 'health', true),
      r('b/x', 'health', false),
    ];
    assert.deepEqual(unhealthyServices({ ok: false, revision: 'r', results }), ['b/x']);
  });
});
