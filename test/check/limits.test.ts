import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Code } from '../../src/diagnostics/index.ts';
import { durationMs } from '../../src/vocabulary/strings.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { compileFiles, type FileOverrides, where, withFiles, yaml } from '../helpers/site.ts';

// The limits every accepted value must stay within so that the real tools accept the build
// (docs/intent.md, "Limits"). Each invalid case is a counter-example the property test
// test/check/check-implies-build.property.test.ts found on a `check` that let it through.

const PG = 'services/db/pg.yaml';
/** pg.yaml with the case's lines from line 5 (indented ones belong to `backend:`). */
const pg = (...lines: string[]): FileOverrides => ({
  [PG]: yaml('vip: 198.18.20.10', 'protocol: pgsql', 'backend:', '  group: db', ...lines),
});
const SITE_HEAD = [
  'site: test',
  'nodes:',
  '  - { name: lb1, address: 198.18.0.11, address6: "2001:db8::11" }',
  '  - { name: lb2, address: 198.18.0.12 }',
];
/** site.yaml with `ha:` and `tls:` lines of the case's own from line 5. */
const site = (...lines: string[]): FileOverrides => ({
  'site.yaml': yaml(...SITE_HEAD, ...lines, 'tls: { policy: intermediate, certs: certs }'),
});
const vrrp = (advert: string) =>
  site('ha:', '  mode: vrrp', `  vrrp: { interface: eth0, router_id_base: 50, advert_int: ${advert} }`);
const bgp = (med: string) =>
  site(
    'ha:',
    '  mode: anycast',
    `  bgp: { local_as: 65001, med: ${med}, peers: [{ name: rr1, address: 198.18.0.1, as: 65000 }] }`,
  );

interface Case {
  name: string;
  files: FileOverrides;
  /** Expected errors: code, file, line, column; none for a valid case. */
  errors: { code: Code; file: string; line: number; column: number }[];
}

const at = (file: string, line: number, column: number, code: Code = 'E_TYPE') => ({
  code,
  file,
  line,
  column,
});

const cases: Case[] = [
  // Durations: HAProxy timers are signed 32-bit milliseconds (2147483647 ms, ~24.8 days).
  { name: 'the longest duration in ms', files: pg('timeouts: { client: 2147483647 }'), errors: [] },
  { name: 'the longest duration as a string', files: pg('timeouts: { client: 2147483647ms }'), errors: [] },
  { name: '24 days', files: pg('timeouts: { client: 24d }'), errors: [] },
  { name: 'the longest duration in seconds', files: pg('timeouts: { client: 2147483s }'), errors: [] },
  { name: 'one millisecond', files: pg('timeouts: { client: 1 }'), errors: [] },
  {
    name: 'every unit',
    files: pg('timeouts: { client: 1ms, http_request: 1s, http_keep_alive: 1h }'),
    errors: [],
  },
  { name: 'a check interval in minutes', files: pg('  check: { interval: 1m, timeout: 596h }'), errors: [] },
  {
    name: '25 days is past HAProxy timer limit',
    files: pg('timeouts: { client: 25d }'),
    errors: [at(PG, 5, 21)],
  },
  { name: 'one ms past the limit', files: pg('timeouts: { client: 2147483648 }'), errors: [at(PG, 5, 21)] },
  { name: '2147484 s', files: pg('timeouts: { client: 2147484s }'), errors: [at(PG, 5, 21)] },
  {
    name: 'a long digit string (once rendered as 1e+35ms)',
    files: pg('timeouts: { client: 100000000000000000000000000000000000ms }'),
    errors: [at(PG, 5, 21)],
  },
  {
    name: 'microseconds (1us rounded to 0)',
    files: pg('timeouts: { client: 1us }'),
    errors: [at(PG, 5, 21)],
  },
  { name: '1000us is refused as well', files: pg('timeouts: { client: 1000us }'), errors: [at(PG, 5, 21)] },
  {
    name: 'timeouts.client 0 (no timeout at all)',
    files: pg('timeouts: { client: 0 }'),
    errors: [at(PG, 5, 21)],
  },
  { name: 'timeouts.client 0s', files: pg('timeouts: { client: 0s }'), errors: [at(PG, 5, 21)] },
  { name: 'check.interval 0', files: pg('  check: { interval: 0 }'), errors: [at(PG, 5, 22)] },
  { name: 'a leading zero', files: pg('  timeouts: { server: 05s }'), errors: [at(PG, 5, 23)] },
  { name: 'a fraction', files: pg('  timeouts: { server: 1.5 }'), errors: [at(PG, 5, 23)] },
  // `balance hdr` needs a header name HAProxy's `hdr(name)`; the vocabulary has no way to give it.
  { name: 'balance hdr', files: pg('  balance: hdr'), errors: [at(PG, 5, 12)] },
  // VRRPv3 adverts are a 12-bit count of centiseconds.
  { name: 'advert_int 0.01', files: vrrp('0.01'), errors: [] },
  { name: 'advert_int 40.95', files: vrrp('40.95'), errors: [] },
  { name: 'advert_int 0.5', files: vrrp('0.5'), errors: [] },
  { name: 'advert_int 0.025', files: vrrp('0.025'), errors: [at('site.yaml', 7, 60)] },
  { name: 'advert_int 41', files: vrrp('41'), errors: [at('site.yaml', 7, 60)] },
  {
    name: 'advert_int 0.010000000000000002',
    files: vrrp('0.010000000000000002'),
    errors: [at('site.yaml', 7, 60)],
  },
  { name: 'advert_int 0.001', files: vrrp('0.001'), errors: [at('site.yaml', 7, 60)] },
  // Linux interface names are at most 15 bytes; nft -c refused a longer `iifname`.
  {
    name: 'a 15-character VRRP interface',
    files: site('ha:', '  mode: vrrp', `  vrrp: { interface: ${'i'.repeat(15)}, router_id_base: 50 }`),
    errors: [],
  },
  {
    name: 'a 16-character VRRP interface',
    files: site('ha:', '  mode: vrrp', `  vrrp: { interface: ${'i'.repeat(16)}, router_id_base: 50 }`),
    errors: [at('site.yaml', 7, 22)],
  },
  // BIRD's bgp_med is 32 bits.
  { name: 'med 4294967295', files: bgp('4294967295'), errors: [] },
  { name: 'med 4294967296', files: bgp('4294967296'), errors: [at('site.yaml', 7, 32)] },
  // Stats ports run from the base up 10,000 ports.
  {
    name: 'stats_port_base 55536',
    files: { 'site.yaml': `${BASE_SITE['site.yaml']}management: { stats_port_base: 55536 }\n` },
    errors: [],
  },
  {
    name: 'stats_port_base 55537 (ports past 65535)',
    files: { 'site.yaml': `${BASE_SITE['site.yaml']}management: { stats_port_base: 55537 }\n` },
    errors: [at('site.yaml', 11, 32)],
  },
];

describe('limits: check refuses what the real tools would reject', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await compileFiles(withFiles(BASE_SITE, c.files));
      assert.deepEqual(
        r.all.filter((d) => d.severity === 'error').map(where),
        c.errors,
        r.all.map((d) => `${d.code} ${d.file}:${d.line}:${d.column} ${d.message}`).join('\n'),
      );
    });
  }
});

describe("stats ports and the kernel's ephemeral ports (32768..60999)", () => {
  for (const [base, warned] of [
    [20000, false],
    [22768, false],
    [22769, true],
    [40000, true],
    [55536, true],
  ] as const) {
    it(`stats_port_base ${base}: ${warned ? 'W_STATS_PORTS_EPHEMERAL' : 'no warning'}`, async () => {
      const r = await compileFiles(
        withFiles(BASE_SITE, {
          'site.yaml': `${BASE_SITE['site.yaml']}management: { stats_port_base: ${base} }\n`,
        }),
      );
      assert.deepEqual(
        r.all.filter((d) => d.code === 'W_STATS_PORTS_EPHEMERAL').map(where),
        warned ? [at('site.yaml', 11, 32, 'W_STATS_PORTS_EPHEMERAL')] : [],
      );
    });
  }
});

describe('durationMs', () => {
  it('reads every unit the schema allows, and a plain number as milliseconds', () => {
    assert.deepEqual(
      ['7', '7ms', '7s', '7m', '7h', '7d', 7].map(durationMs),
      [7, 7, 7000, 420_000, 25_200_000, 604_800_000, 7],
    );
  });
  it('is NaN for what the schema refuses', () => {
    for (const s of ['1us', '1.5s', '-1s', '1S', '', 's']) assert.ok(Number.isNaN(durationMs(s)), s);
  });
});
