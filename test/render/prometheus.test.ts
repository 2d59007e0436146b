import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Model } from '../../src/model/index.ts';
import { renderPrometheus, renderRules } from '../../src/render/prometheus/index.ts';
import { campus } from '../helpers/campus.ts';
import { assertGolden } from '../helpers/golden.ts';
import { requireTool, withTempDir } from '../helpers/tools.ts';

function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const bin = requireTool('promtool');
  return new Promise((done) => {
    execFile(bin, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      done({
        code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1,
        out: `${stdout}${stderr}`,
      });
    });
  });
}

/** One alert's unit test: the input series, and the alerts expected at `at` (none: must not fire). */
interface Case {
  name: string;
  series: [series: string, values: string][];
  at: string;
  alert: string;
  fires: Record<string, string>[];
  /** Evaluation step, 1m unless given. */
  interval?: string;
}

const HD = 'job="intentlb-campus-healthd",instance="198.18.0.11:9300",site="campus",node="lb1"';
const HA =
  'job="intentlb-campus-haproxy",instance="198.18.0.11:23197",site="campus",node="lb1",haproxy_instance="it-api"';

const CASES: Case[] = [
  {
    name: 'healthd down fires after 1m',
    series: [[`up{${HD}}`, '0x5']],
    at: '2m',
    alert: 'IntentlbHealthdDown',
    fires: [
      {
        job: 'intentlb-campus-healthd',
        instance: '198.18.0.11:9300',
        node: 'lb1',
        site: 'campus',
        severity: 'critical',
      },
    ],
  },
  { name: 'healthd up', series: [[`up{${HD}}`, '1x5']], at: '2m', alert: 'IntentlbHealthdDown', fires: [] },
  {
    name: 'HAProxy instance down',
    series: [[`up{${HA}}`, '0x5']],
    at: '2m',
    alert: 'IntentlbHaproxyDown',
    fires: [
      {
        job: 'intentlb-campus-haproxy',
        instance: '198.18.0.11:23197',
        node: 'lb1',
        site: 'campus',
        haproxy_instance: 'it-api',
        severity: 'critical',
      },
    ],
  },
  {
    name: 'HAProxy instance up',
    series: [[`up{${HA}}`, '1x5']],
    at: '2m',
    alert: 'IntentlbHaproxyDown',
    fires: [],
  },
  {
    name: 'VIP judged down',
    series: [[`intentlb_healthd_vip_state{${HD},vip="it-api",state="down"}`, '1x5']],
    at: '2m',
    alert: 'IntentlbVipDown',
    fires: [{ ...labels(HD), vip: 'it-api', state: 'down', severity: 'warning' }],
  },
  {
    name: 'VIP down for less than its for:',
    series: [[`intentlb_healthd_vip_state{${HD},vip="it-api",state="down"}`, '0 0 0 1']],
    at: '3m',
    alert: 'IntentlbVipDown',
    fires: [],
  },
  {
    name: 'backend with no server up',
    series: [[`haproxy_backend_status{${HA},proxy="be_it-api",state="UP"}`, '0x5']],
    at: '2m',
    alert: 'IntentlbBackendDown',
    fires: [{ ...labels(HA), proxy: 'be_it-api', state: 'UP', severity: 'critical' }],
  },
  {
    name: 'backend up; a stats proxy is not a backend of ours',
    series: [
      [`haproxy_backend_status{${HA},proxy="be_it-api",state="UP"}`, '1x5'],
      [`haproxy_backend_status{${HA},proxy="stats_it-api",state="UP"}`, '0x5'],
    ],
    at: '2m',
    alert: 'IntentlbBackendDown',
    fires: [],
  },
  {
    name: 'VIP withdrawn, not held, node not drained',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_held{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_drained{${HD}}`, '0x5'],
    ],
    at: '2m',
    alert: 'IntentlbVipWithdrawn',
    fires: [{ ...labels(HD), vip: 'it-api', severity: 'warning' }],
  },
  {
    name: 'VIP withdrawn on purpose (held)',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_held{${HD},vip="it-api"}`, '1x5'],
      [`intentlb_healthd_drained{${HD}}`, '0x5'],
    ],
    at: '2m',
    alert: 'IntentlbVipWithdrawn',
    fires: [],
  },
  {
    name: 'VIP withdrawn on a drained node',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_held{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_drained{${HD}}`, '1x5'],
    ],
    at: '2m',
    alert: 'IntentlbVipWithdrawn',
    fires: [],
  },
  {
    name: 'VIP announced by no node',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_announced{${HD.replace('lb1', 'lb2')},vip="it-api"}`, '0x5'],
    ],
    at: '2m',
    alert: 'IntentlbVipWithdrawnEverywhere',
    fires: [{ site: 'campus', vip: 'it-api', severity: 'critical' }],
  },
  {
    name: 'VIP announced by one node',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_announced{${HD.replace('lb1', 'lb2')},vip="it-api"}`, '1x5'],
    ],
    at: '2m',
    alert: 'IntentlbVipWithdrawnEverywhere',
    fires: [],
  },
  {
    name: 'node announcing nothing',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_announced{${HD},vip="it-ldap"}`, '0x5'],
      [`intentlb_healthd_drained{${HD}}`, '0x5'],
    ],
    at: '3m',
    alert: 'IntentlbNodeNotAnnouncing',
    fires: [{ site: 'campus', node: 'lb1', severity: 'critical' }],
  },
  {
    name: 'node announcing one VIP',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_vip_announced{${HD},vip="it-ldap"}`, '1x5'],
      [`intentlb_healthd_drained{${HD}}`, '0x5'],
    ],
    at: '3m',
    alert: 'IntentlbNodeNotAnnouncing',
    fires: [],
  },
  {
    name: 'drained node announcing nothing',
    series: [
      [`intentlb_healthd_vip_announced{${HD},vip="it-api"}`, '0x5'],
      [`intentlb_healthd_drained{${HD}}`, '1x5'],
    ],
    at: '3m',
    alert: 'IntentlbNodeNotAnnouncing',
    fires: [],
  },
  {
    name: 'healthd lost BIRD',
    series: [[`intentlb_healthd_bird_connected{${HD}}`, '0x5']],
    at: '2m',
    alert: 'IntentlbBirdDisconnected',
    fires: [{ ...labels(HD), severity: 'critical' }],
  },
  {
    name: 'healthd connected to BIRD',
    series: [[`intentlb_healthd_bird_connected{${HD}}`, '1x5']],
    at: '2m',
    alert: 'IntentlbBirdDisconnected',
    fires: [],
  },
  {
    name: 'one BGP session down, the other up',
    series: [
      [`intentlb_healthd_bgp_session_up{${HD},peer="rr1"}`, '0x5'],
      [`intentlb_healthd_bgp_session_up{${HD},peer="rr2"}`, '1x5'],
    ],
    at: '2m',
    alert: 'IntentlbBgpSessionDown',
    fires: [{ ...labels(HD), peer: 'rr1', severity: 'warning' }],
  },
  {
    name: 'every BGP session established',
    series: [[`intentlb_healthd_bgp_session_up{${HD},peer="rr1"}`, '1x5']],
    at: '2m',
    alert: 'IntentlbBgpSessionDown',
    fires: [],
  },
  {
    name: 'no BGP session of a node up',
    series: [
      [`intentlb_healthd_bgp_session_up{${HD},peer="rr1"}`, '0x5'],
      [`intentlb_healthd_bgp_session_up{${HD},peer="rr2"}`, '0x5'],
    ],
    at: '2m',
    alert: 'IntentlbNoBgpSession',
    fires: [{ site: labels(HD).site!, node: labels(HD).node!, severity: 'critical' }],
  },
  {
    name: 'one BGP session of a node up',
    series: [
      [`intentlb_healthd_bgp_session_up{${HD},peer="rr1"}`, '0x5'],
      [`intentlb_healthd_bgp_session_up{${HD},peer="rr2"}`, '1x5'],
    ],
    at: '2m',
    alert: 'IntentlbNoBgpSession',
    fires: [],
  },
  {
    name: 'a node of the site on another revision',
    series: [[`intentlb_verify_check_ok{service="node:lb2",check="revision"}`, '0x20']],
    at: '16m',
    alert: 'IntentlbRevisionDrift',
    fires: [{ service: 'node:lb2', check: 'revision', site: 'campus', severity: 'warning' }],
  },
  {
    name: 'revision drift of another site’s node, or none',
    series: [
      [`intentlb_verify_check_ok{service="node:lb3",check="revision"}`, '0x20'],
      [`intentlb_verify_check_ok{service="node:lb1",check="revision"}`, '1x20'],
    ],
    at: '16m',
    alert: 'IntentlbRevisionDrift',
    fires: [],
  },
  ...verifyCases('IntentlbServedCertificateInvalid', 'tls:cert', '16m', 'warning'),
  ...verifyCases('IntentlbAnnouncementMissing', 'announce/v6', '6m', 'critical'),
];

/** An alert on one of verify's checks: fires while the check fails, silent while it passes. */
function verifyCases(alert: string, check: string, at: string, severity: string): Case[] {
  const series = (ok: 0 | 1): Case['series'] => [
    [`intentlb_verify_check_ok{service="web/wiki",check="${check}"}`, `${ok}x20`],
  ];
  return [
    {
      name: `${check} failing`,
      series: series(0),
      at,
      alert,
      fires: [{ service: 'web/wiki', check, site: 'campus', severity }],
    },
    { name: `${check} passing`, series: series(1), at, alert, fires: [] },
  ];
}

function labels(selector: string): Record<string, string> {
  return Object.fromEntries([...selector.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

/** promtool's unit-test file: one test group per case, JSON (a YAML subset). */
function unitTests(rulesFile: string, cases: Case[], evaluationInterval = '1m'): string {
  return JSON.stringify({
    rule_files: [rulesFile],
    evaluation_interval: evaluationInterval,
    tests: cases.map((c) => ({
      name: c.name,
      interval: c.interval ?? '1m',
      input_series: c.series.map(([series, values]) => ({ series, values })),
      alert_rule_test: [
        { eval_time: c.at, alertname: c.alert, exp_alerts: c.fires.map((exp_labels) => ({ exp_labels })) },
      ],
    })),
  });
}

/** The certificate alert needs a certificate ending near promtool's clock (the epoch). */
function withEarlyCert(model: Model): Model {
  const cert = model.site.certs.find((c) => model.services.some((s) => s.certs.includes(c.file)))!;
  cert.notAfter = '1970-02-15T00:00:00.000Z';
  return model;
}

describe('Prometheus: targets, rules and the scrape configuration', () => {
  it('renders examples/campus as the golden files', async () => {
    for (const f of renderPrometheus(await campus())) assertGolden(`test/render/golden/${f.path}`, f.content);
  });

  it('lists every HAProxy exporter and every healthd, labelled with site and node', async () => {
    const model = await campus();
    const files = Object.fromEntries(
      renderPrometheus(model).map((f) => [f.path, JSON.parse(f.path.endsWith('.json') ? f.content : '0')]),
    );
    const haproxy = files['prometheus/targets/haproxy.json'] as {
      targets: string[];
      labels: Record<string, string>;
    }[];
    assert.equal(haproxy.length, model.instances.length * model.site.nodes.length);
    const api = haproxy.find((g) => g.labels.node === 'lb2' && g.labels.haproxy_instance === 'it-api')!;
    assert.deepEqual(api.targets, [
      `198.18.0.12:${model.instances.find((i) => i.name === 'it-api')!.statsPort}`,
    ]);
    assert.deepEqual(files['prometheus/targets/healthd.json'], [
      { targets: ['198.18.0.11:9300'], labels: { site: 'campus', node: 'lb1' } },
      { targets: ['198.18.0.12:9300'], labels: { site: 'campus', node: 'lb2' } },
    ]);
  });

  it('leaves out instances whose services all turn the exporter off', async () => {
    const model = await campus();
    for (const s of model.services) if (s.id === 'it/api') s.monitoring.prometheus = false;
    const haproxy = JSON.parse(
      renderPrometheus(model).find((f) => f.path.endsWith('haproxy.json'))!.content,
    ) as {
      labels: Record<string, string>;
    }[];
    assert.ok(!haproxy.some((g) => g.labels.haproxy_instance === 'it-api'));
  });

  it('promtool check config accepts the configuration, its targets and rules', async () => {
    await withTempDir(async (dir) => {
      for (const f of renderPrometheus(await campus())) {
        const p = join(dir, f.path);
        await import('node:fs').then((fs) => fs.mkdirSync(join(p, '..'), { recursive: true }));
        writeFileSync(p, f.content);
      }
      const r = await promtool(['check', 'config', 'prometheus/prometheus.yml'], dir);
      assert.equal(r.code, 0, r.out);
      const rules = await promtool(['check', 'rules', 'prometheus/intentlb.rules.yml'], dir);
      assert.equal(rules.code, 0, rules.out);
    });
  });

  it('promtool test rules: every alert fires when it should and stays silent otherwise', async () => {
    const model = withEarlyCert(await campus());
    const alerts = new Set([...renderRules(model).content.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!));
    const cases: Case[] = [
      ...CASES,
      {
        name: 'certificate within 30 days of its end',
        series: [],
        at: `${45 - 29}d`,
        interval: '1d',
        alert: 'IntentlbCertificateExpiring',
        fires: [
          { site: 'campus', severity: 'warning', cert: 'bundle', not_after: '1970-02-15T00:00:00.000Z' },
        ],
      },
      {
        name: 'certificate far from its end',
        series: [],
        at: '1d',
        interval: '1d',
        alert: 'IntentlbCertificateExpiring',
        fires: [],
      },
    ];
    // The certificate's label is its file name; take it from the rendered rule.
    const cert = /cert: (\S+)\n\s+not_after: "?1970/.exec(renderRules(model).content)![1]!;
    cases.at(-2)!.fires[0]!.cert = cert.replace(/^"|"$/g, '');
    for (const a of alerts) {
      assert.ok(
        cases.some((c) => c.alert === a && c.fires.length > 0),
        `${a}: no case where it fires`,
      );
      assert.ok(
        cases.some((c) => c.alert === a && c.fires.length === 0),
        `${a}: no case where it stays silent`,
      );
    }
    await withTempDir(async (dir) => {
      // The unit tests judge when each alert fires and with which labels; the wording is for people.
      const rules = renderRules(model).content.replace(
        /\n\s+annotations:\n\s+summary: .*\n\s+description: .*/g,
        '',
      );
      writeFileSync(join(dir, 'rules.yml'), rules);
      // Cases over days run with an hourly evaluation: at promtool's default minute, 16 days are
      // 23,000 evaluations of every rule (half a minute of CPU).
      const daily = cases.filter((c) => c.interval === '1d');
      writeFileSync(
        join(dir, 'tests.yml'),
        unitTests(
          'rules.yml',
          cases.filter((c) => !daily.includes(c)),
        ),
      );
      writeFileSync(join(dir, 'tests-days.yml'), unitTests('rules.yml', daily, '1h'));
      const r = await promtool(['test', 'rules', 'tests.yml', 'tests-days.yml'], dir);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.out.match(/SUCCESS/g)?.length, 2, r.out);
    });
  });

  it('renders no anycast alerts where the site does not announce', async () => {
    const model = await campus();
    model.site.ha.mode = 'vrrp';
    const text = renderRules(model).content;
    assert.doesNotMatch(text, /IntentlbVipWithdrawn|IntentlbNodeNotAnnouncing|IntentlbBirdDisconnected/);
    assert.match(text, /IntentlbBackendDown/);
  });
});
