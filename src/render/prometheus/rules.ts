import type { Model } from '../../model/index.ts';
import { promAlternatives, promString } from '../quote/promql.ts';
import { HEADER, type RenderedFile } from '../types.ts';
import { emitYaml, type YamlValue } from '../yaml-emit.ts';
import { jobName } from './targets.ts';

export const RULES_FILE = 'prometheus/intentlb.rules.yml';

/**
 * One alerting rule. Annotations and labels are Go templates: the only model text in them is
 * grammar-checked names, a certificate's plain file name and a date, none of which holds `{{`.
 */
interface Alert {
  alert: string;
  expr: string;
  for: string;
  severity: 'critical' | 'warning';
  labels?: Record<string, string>;
  summary: string;
  description: string;
}

/** A family of alerts and the sites it applies to. */
interface AlertSource {
  applies(model: Model): boolean;
  alerts(model: Model, now: Selectors): Alert[];
}

/** The selectors every rule of the site starts from. */
interface Selectors {
  /** `site="<site>"`: the label every scraped target of the site carries (file_sd). */
  site: string;
  /** `service=~"node:(lb1|lb2)"`: the site's nodes in verify's metrics. */
  nodes: string;
}

const always = (): boolean => true;
const anycast = (m: Model): boolean => m.site.ha.mode === 'anycast';
const DAY_S = 86_400;
/** Days before a certificate's end when its alert fires (as `check` warns). */
export const CERT_WARN_DAYS = 30;

/**
 * The alerts, on the metrics our processes export: healthd (`intentlb_healthd_*`,
 * src/healthd/metrics.ts), HAProxy's prometheus-exporter (`haproxy_backend_status`), Prometheus'
 * own `up`, and verify's textfile metrics (`intentlb_verify_check_ok`) where only verify sees it.
 */
const SOURCES: readonly AlertSource[] = [
  {
    applies: always,
    alerts: (m, s) => [
      {
        alert: 'IntentlbHealthdDown',
        expr: `up{job=${promString(jobName(m, 'healthd'))}} == 0`,
        for: '1m',
        severity: 'critical',
        summary: 'healthd on {{ $labels.node }} does not answer',
        description:
          'Prometheus cannot scrape healthd on {{ $labels.node }} ({{ $labels.instance }}): nothing watches the VIPs of that node.',
      },
      {
        alert: 'IntentlbHaproxyDown',
        expr: `up{job=${promString(jobName(m, 'haproxy'))}} == 0`,
        for: '1m',
        severity: 'critical',
        summary: 'HAProxy instance {{ $labels.haproxy_instance }} on {{ $labels.node }} does not answer',
        description:
          'The exporter of HAProxy instance {{ $labels.haproxy_instance }} on {{ $labels.node }} ({{ $labels.instance }}) cannot be scraped: the instance is down or its stats listener unreachable.',
      },
      {
        alert: 'IntentlbVipDown',
        expr: `intentlb_healthd_vip_state{${s.site},state="down"} == 1`,
        for: '1m',
        severity: 'warning',
        summary: 'VIP {{ $labels.vip }} fails its checks on {{ $labels.node }}',
        description:
          "healthd judges VIP {{ $labels.vip }} down on {{ $labels.node }}: the node's HAProxy has no server up for it, or does not answer its monitor URI.",
      },
      {
        alert: 'IntentlbBackendDown',
        expr: `haproxy_backend_status{${s.site},proxy=~"be_.+",state="UP"} == 0`,
        for: '1m',
        severity: 'critical',
        summary: 'backend {{ $labels.proxy }} has no server up on {{ $labels.node }}',
        description:
          'HAProxy instance {{ $labels.haproxy_instance }} on {{ $labels.node }} reports backend {{ $labels.proxy }} DOWN: every server fails its health check.',
      },
      {
        alert: 'IntentlbRevisionDrift',
        expr: `intentlb_verify_check_ok{check="revision",service=~${s.nodes}} == 0`,
        for: '15m',
        severity: 'warning',
        summary: '{{ $labels.service }} runs another intent revision than the one verified',
        description:
          '`intentlb verify` found that {{ $labels.service }} has not applied the intent revision it verified: a rollout stopped half-way or a node was left out.',
      },
      {
        alert: 'IntentlbServedCertificateInvalid',
        expr: `intentlb_verify_check_ok{check="tls:cert"} == 0`,
        for: '15m',
        severity: 'warning',
        summary: 'the certificate served for {{ $labels.service }} expires soon or does not cover its names',
        description:
          '`intentlb verify` (tls:cert) saw a served certificate of {{ $labels.service }} that does not cover an FQDN or expires within its --cert-days.',
      },
    ],
  },
  {
    applies: anycast,
    alerts: (_m, s) => [
      {
        alert: 'IntentlbVipWithdrawn',
        expr: `intentlb_healthd_vip_announced{${s.site}} == 0 unless on (node, vip) intentlb_healthd_vip_held{${s.site}} == 1 unless on (node) intentlb_healthd_drained{${s.site}} == 1`,
        for: '1m',
        severity: 'warning',
        summary: 'VIP {{ $labels.vip }} is withdrawn on {{ $labels.node }}',
        description:
          'healthd on {{ $labels.node }} withdrew VIP {{ $labels.vip }} (not held, node not drained): the other nodes carry its traffic.',
      },
      {
        alert: 'IntentlbVipWithdrawnEverywhere',
        expr: `max by (site, vip) (intentlb_healthd_vip_announced{${s.site}}) == 0`,
        for: '1m',
        severity: 'critical',
        summary: 'VIP {{ $labels.vip }} is announced by no node',
        description: 'No node of site {{ $labels.site }} announces VIP {{ $labels.vip }}: it is unreachable.',
      },
      {
        alert: 'IntentlbNodeNotAnnouncing',
        expr: `max by (site, node) (intentlb_healthd_vip_announced{${s.site}}) == 0 unless on (node) intentlb_healthd_drained{${s.site}} == 1`,
        for: '2m',
        severity: 'critical',
        summary: '{{ $labels.node }} announces none of its VIPs',
        description:
          '{{ $labels.node }} is not drained but announces no VIP: it takes no traffic. Check its HAProxy instances and healthd.',
      },
      {
        alert: 'IntentlbBirdDisconnected',
        expr: `intentlb_healthd_bird_connected{${s.site}} == 0`,
        for: '1m',
        severity: 'critical',
        summary: 'healthd on {{ $labels.node }} has lost BIRD',
        description:
          "healthd on {{ $labels.node }} is not connected to BIRD's control socket: it cannot announce or withdraw.",
      },
      {
        alert: 'IntentlbBgpSessionDown',
        expr: `intentlb_healthd_bgp_session_up{${s.site}} == 0`,
        for: '1m',
        severity: 'warning',
        summary: 'BGP session {{ $labels.peer }} of {{ $labels.node }} is down',
        description:
          "BIRD on {{ $labels.node }} has no established session {{ $labels.peer }}: that router does not learn the node's VIPs (the other sessions may still carry them).",
      },
      {
        alert: 'IntentlbNoBgpSession',
        expr: `max by (site, node) (intentlb_healthd_bgp_session_up{${s.site}}) == 0`,
        for: '1m',
        severity: 'critical',
        summary: '{{ $labels.node }} has no established BGP session',
        description:
          '{{ $labels.node }} has no BGP session up with any router: none of its VIP announcements reach the network. Check the links, BFD and the routers.',
      },
      {
        alert: 'IntentlbAnnouncementMissing',
        expr: `intentlb_verify_check_ok{check=~"announce(/v6)?"} == 0`,
        for: '5m',
        severity: 'critical',
        summary: 'a node does not announce {{ $labels.service }} where the router looks',
        description:
          '`intentlb verify --bird` found a node missing as a next hop of the VIP of {{ $labels.service }}.',
      },
    ],
  },
  {
    applies: (m) => usedCerts(m).length > 0,
    alerts: (m) =>
      usedCerts(m).map((c, i) => {
        const end = Math.floor(Date.parse(c.notAfter) / 1000);
        // Rule labels are not in `$labels` of an annotation: the plain values are written out.
        const cert = certLabel(c.file, i);
        return {
          alert: 'IntentlbCertificateExpiring',
          expr: `vector(time()) > ${end - CERT_WARN_DAYS * DAY_S}`,
          for: '0m',
          severity: 'warning',
          labels: { cert, not_after: c.notAfter },
          summary: `certificate ${cert} expires at ${c.notAfter}`,
          description: `The certificate bundle ${cert} of the deployed intent ends at ${c.notAfter} (less than ${CERT_WARN_DAYS} days left). Renew it in the site's certificate folder and roll out.`,
        };
      }),
  },
];

function usedCerts(m: Model): Model['site']['certs'] {
  const used = new Set(m.services.flatMap((s) => s.certs));
  return m.site.certs.filter((c) => used.has(c.file));
}

/** The bundle's file name where it is plain, else its position: label values are templated. */
function certLabel(file: string, i: number): string {
  const base = file.split('/').pop() ?? '';
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(base) ? base : `bundle-${i + 1}`;
}

/** The site's alerting rules, one group. */
export function renderRules(model: Model): RenderedFile {
  const s: Selectors = {
    site: `site=${promString(model.site.name)}`,
    nodes: promAlternatives(model.site.nodes.map((n) => `node:${n.name}`)),
  };
  const rules: YamlValue[] = SOURCES.filter((x) => x.applies(model))
    .flatMap((x) => x.alerts(model, s))
    .map((a) => ({
      alert: a.alert,
      expr: a.expr,
      for: a.for,
      labels: { severity: a.severity, site: model.site.name, ...a.labels },
      annotations: { summary: a.summary, description: a.description },
    }));
  const doc = { groups: [{ name: `intentlb-${model.site.name}`, rules }] };
  return { path: RULES_FILE, content: `# ${HEADER}\n${emitYaml(doc)}` };
}
