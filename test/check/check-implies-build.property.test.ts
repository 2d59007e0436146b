import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { renderBuild, writeFiles } from '../../src/build/build.ts';
import { runTool } from '../../src/build/run-tool.ts';
import { allValidators } from '../../src/build/validators.ts';
import { jsonSchema } from '../../src/cli/schema.ts';
import { parseHealthdConfig } from '../../src/healthd/config.ts';
import { BASE_SITE } from '../helpers/base-site.ts';
import { certBundle } from '../helpers/certs.ts';
import { arbitraryFromSchema, type JsonSchema, type SchemaPath } from '../helpers/json-schema-arbitrary.ts';
import { compileFiles, withFiles } from '../helpers/site.ts';
import { requireRoot, requireTool, withTempDir } from '../helpers/tools.ts';

// Property: `check` exit 0 ⇒ `build` with the real tools exits 0. Service files, defaults and the
// tunable parts of site.yaml are generated from the JSON Schema `intentlb schema` prints, placed in
// a small valid site, compiled as `check` does, and every accepted sample is rendered and given to
// the validators `build` runs (haproxy -c, bird -p, nft -c, keepalived -t, icinga2 daemon -C).
// A fixed seed by default (printed with a counter-example); FC_SEED, FC_RUNS and FC_TIME_LIMIT_MS
// (the whole run, shrinking included; default 2 min) for long local runs, PROP_DEBUG=1 to see why
// samples were rejected and where the time went. icinga2 takes about a second per run, so it
// checks every FC_ICINGA_EVERY-th accepted sample (and the first one).

const SEED = Number(process.env.FC_SEED ?? 20261205);
const RUNS = Number(process.env.FC_RUNS ?? 150);
const ICINGA_EVERY = Number(process.env.FC_ICINGA_EVERY ?? 10);

const schemas = {
  service: jsonSchema('service') as JsonSchema,
  defaults: jsonSchema('defaults') as JsonSchema,
  site: jsonSchema('site') as JsonSchema,
};
const prop = (s: JsonSchema, ...keys: string[]): JsonSchema =>
  keys.reduce((x, k) => (x.properties as Record<string, JsonSchema>)[k]!, s);

/** Site-aware values where the schema cannot say what fits (pools, groups, addresses). */
/** Host names of service `i` (its own, so two services do not claim one FQDN), and edge cases. */
const hostnames = (i: number) =>
  fc.oneof(
    {
      arbitrary: fc.constantFrom(`s${i}.test.example`, `s${i}-b.test.example`, `${i}.test.example`),
      weight: 20,
    },
    {
      arbitrary: fc.constantFrom(
        '*.test.example',
        `s${i}.test.example.`,
        `${'a'.repeat(62)}${i}.test.example`,
        `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(46)}${i}.test.example`,
        'xn--bcher-kva.test.example',
        'www.test.example',
        'other.example',
      ),
      weight: 1,
    },
  );
// The name grammar (lowercase, at most 63 characters) refuses the last two: rarely, so most samples
// get through check.
const names = fc.oneof(
  {
    arbitrary: fc.constantFrom('a', 'srv1', 'a.b', 'a_b', 'a-b', 'a9', 'x'.repeat(30), 'x'.repeat(63)),
    weight: 20,
  },
  { arbitrary: fc.constantFrom('A9', 'x'.repeat(64), 'x'.repeat(200)), weight: 1 },
);
const paths = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      '/',
      '/a',
      '/a/b?c=d',
      '/%41',
      '/a%20b',
      '/a,b',
      '/a=b',
      '/a|b',
      '/a(b)',
      '/[x]',
      '/a&b',
      '/a:b',
      '/~a',
      '/a*',
    ),
    weight: 100,
  },
  { arbitrary: fc.string({ maxLength: 20 }).map((s) => `/${s}`), weight: 1 },
  { arbitrary: fc.constantFrom('/é', '/{x}', `/${'p'.repeat(2000)}`), weight: 1 },
);
/** Durations on and near every limit, in each unit; the schema's own strings now and then. */
const durations = fc.constantFrom(
  1,
  2,
  2147483647,
  '1',
  '1ms',
  '2s',
  '1m',
  '1h',
  '1d',
  '24d',
  '596h',
  '35791m',
  '2147483s',
  '2147483647ms',
  '2147483647',
);
const DURATION_KEYS = new Set([
  'client',
  'http_request',
  'http_keep_alive',
  'connect',
  'server',
  'queue',
  'interval',
  'timeout',
]);
const prefixes = fc.constantFrom(
  '198.18.0.0/15',
  '0.0.0.0/0',
  '198.18.10.11',
  '198.18.10.11/32',
  '2001:db8::/32',
  '::/0',
  '2001:db8::1',
  '10.0.0.0/8',
);
const dottedKeys = fc.constantFrom(
  'ssl',
  'backend.balance',
  'backend.check.interval',
  'timeouts',
  'protocol',
);

function serviceOverride(i: number) {
  return (path: SchemaPath, fromSchema: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> | undefined => {
    const last = path.at(-1);
    const parent = path.at(-2);
    const mixed = (arb: fc.Arbitrary<unknown>) =>
      fc.oneof({ arbitrary: arb, weight: 50 }, { arbitrary: fromSchema, weight: 1 });
    if (path.length === 1 && last === 'vip')
      return mixed(
        fc.oneof(
          { arbitrary: fc.constantFrom(`198.18.100.${50 + i}`, `198.18.20.${50 + i}`), weight: 10 },
          fc.constant('198.18.100.10'),
        ),
      );
    if (path.length === 1 && last === 'vip6') return mixed(fc.constantFrom(`2001:db8:100::${50 + i}`));
    if (last === 'host' || (path[0] === 'fqdn' && (path.length === 1 || last === '*')))
      return path.length === 1 && last === 'fqdn'
        ? mixed(
            fc.oneof(
              { arbitrary: hostnames(i), weight: 4 },
              { arbitrary: fc.array(hostnames(i), { minLength: 1, maxLength: 3 }), weight: 4 },
              { arbitrary: fc.array(hostnames(i), { minLength: 30, maxLength: 60 }), weight: 1 },
            ),
          )
        : mixed(hostnames(i));
    if (last === 'group')
      return mixed(
        fc.oneof({ arbitrary: fc.constantFrom('app', 'db'), weight: 10 }, fc.constantFrom('empty', 'nope')),
      );
    if (last === 'name' || last === 'cookie' || parent === 'contacts') return mixed(names);
    if (last === 'address' && path.includes('servers'))
      return mixed(
        fc.oneof(
          { arbitrary: fc.constantFrom('198.18.10.40', '198.18.10.41', '2001:db8:11::40'), weight: 8 },
          { arbitrary: fc.constant('127.0.0.1'), weight: 1 },
        ),
      );
    if (last === 'path' || last === 'path_prefix' || last === 'url') return mixed(paths);
    // `%` included: HAProxy reads `redirect location` as a log-format, and the renderer writes
    // team text there as a literal (`/%41` was rejected before it did).
    if (last === 'to') {
      const target = fc.oneof(paths, fc.constantFrom('/%41', '/a%20b', '/%[env(HOME)]'));
      return mixed(
        fc.oneof(
          target,
          target.map((p) => `https://x.test.example${p}`),
        ),
      );
    }
    if (parent === 'allow') return mixed(prefixes);
    if (parent === 'lock') return mixed(dottedKeys);
    if (path[0] === 'health') {
      const h = healthOverride(path.slice(1), fromSchema);
      if (h !== undefined) return h;
    }
    if (last !== undefined && DURATION_KEYS.has(last))
      return fc.oneof({ arbitrary: durations, weight: 3 }, fromSchema);
    if (path.length === 1 && last === 'protocol')
      return fc.oneof({ arbitrary: fc.constant('http'), weight: 8 }, fromSchema);
    // Regex syntax once broke `http-check expect rstring`; expect is now a literal `string`.
    if (last === 'expect')
      return fc.oneof(
        fc.integer({ min: 100, max: 599 }),
        fc.constantFrom('ok', 'UP', 'a.b', 'x'.repeat(200), '%', '(', 'ok[', 'say "hi" #1'),
        { arbitrary: fromSchema, weight: 1 },
      );
    if (parent === 'ports')
      return mixed(
        fc.oneof({ arbitrary: fc.constantFrom(80, 443), weight: 6 }, fc.constantFrom(8080, 25, 1, 65535)),
      );
    return undefined;
  };
}

/**
 * healthd's timing on and near its limits (100 ms interval, timeout below it), exec checks naming
 * the site's commands (and one it lacks), arguments a shell would read (none is used).
 */
function healthOverride(
  path: SchemaPath,
  fromSchema: fc.Arbitrary<unknown>,
): fc.Arbitrary<unknown> | undefined {
  const last = path.at(-1);
  const mixed = (arb: fc.Arbitrary<unknown>) =>
    fc.oneof({ arbitrary: arb, weight: 30 }, { arbitrary: fromSchema, weight: 1 });
  // Values on the limits and inside them: samples outside them are only refused (the table tests
  // in test/check/health.test.ts pin E_HEALTH_TIMING and E_CHECK_COMMAND).
  if (last === 'interval') return mixed(fc.constantFrom('500ms', '401ms', '1s', '1h'));
  if (last === 'timeout') return mixed(fc.constantFrom('99ms', 10, '10ms', '50ms'));
  if (last === 'hold_down') return mixed(fc.constantFrom('2s', 1, '1h'));
  if (last === 'exec') return fc.constant('tcp');
  if (path.at(-2) === 'args') return mixed(fc.constantFrom('-H', 'a b', '$(reboot)', ';', "'", '-p', '8080'));
  if (last === 'path')
    return fc.oneof(
      { arbitrary: fc.constantFrom('/', '/_intentlb/health', '/a/b', '/%41', '/a:b@c'), weight: 12 },
      { arbitrary: paths, weight: 2 },
      fromSchema,
    );
  return undefined;
}

/** The commands every sample's site.yaml lists for exec checks. */
const CHECK_COMMANDS = {
  commands: {
    tcp: { path: '/usr/lib/nagios/plugins/check_tcp', args: ['-t', '1'], args_allowed: true },
    dns: { path: '/usr/lib/nagios/plugins/check_dns' },
  },
};

function siteOverride(
  path: SchemaPath,
  fromSchema: fc.Arbitrary<unknown>,
): fc.Arbitrary<unknown> | undefined {
  const last = path.at(-1);
  if (last === 'peers') return fc.constant([{ name: 'rr1', address: '198.18.0.1', as: 65000 }]);
  if (last === 'interface')
    return fc.oneof(
      { arbitrary: fc.constantFrom('eth0', 'bond0.100', 'x'.repeat(15)), weight: 8 },
      fromSchema,
    );
  if (last === 'certs') return fc.constant('certs');
  if (last === 'advert_int')
    return fc.oneof({ arbitrary: fc.constantFrom(0.01, 0.5, 1, 2.55, 40.95), weight: 8 }, fromSchema);
  if (last === 'timeout') return fc.oneof({ arbitrary: durations, weight: 3 }, fromSchema);
  // The system resolver would make the test slow and depend on the network.
  if (last === 'resolver') return fc.constant(false);
  // health.path is a word of keepalived's check script too: `/a|b` passed check and broke it.
  if (last === 'path')
    return fc.oneof(
      { arbitrary: fc.constantFrom('/', '/_intentlb/health', '/a/b', '/%41', '/a:b@c'), weight: 12 },
      { arbitrary: paths, weight: 2 },
      fromSchema,
    );
  if (path.at(-2) === 'allow') return prefixes;
  if (path.at(-2) === 'communities')
    return fc.oneof(
      { arbitrary: fc.constantFrom('65000:1', '0:0', '65535:65535', '1:2'), weight: 50 },
      fromSchema,
    );
  return undefined;
}

/** Keys most services have are usually there; `lock:` (which refuses the services below) is rare. */
function PRESENCE(path: SchemaPath): number {
  const key = path.join('.');
  if (['fqdn', 'vip', 'backend', 'backend.group', 'routes.*.backend.group'].includes(key)) return 0.9;
  if (key === 'lock') return 0.1;
  // A service's `health` is rare enough not to crowd out the rest of the vocabulary.
  if (key === 'health') return 0.1;
  return 0.3;
}

function generate(
  schema: JsonSchema,
  override: (p: SchemaPath, fromSchema: fc.Arbitrary<unknown>) => fc.Arbitrary<unknown> | undefined,
): fc.Arbitrary<unknown> {
  return arbitraryFromSchema(schema, { presence: PRESENCE, override });
}

// A file name gets the service's index appended: 58 + 1 is the grammar's 59 (longer ones, once a
// BIRD symbol over 64 characters or an admin socket path over HAProxy's 97 bytes, are E_NAME,
// pinned by test/load/hostile-files.test.ts).
// The longest name is refused below a folder (the id grows past the limit): rarer than the others,
// so that the samples check accepts stay enough (≥ 5 %) as the vocabulary grows.
const SERVICE_FILES = fc.oneof(
  { arbitrary: fc.constantFrom('svc', 'a.b', 'a_b', 'x'.repeat(40)), weight: 8 },
  { arbitrary: fc.constant('y'.repeat(58)), weight: 1 },
);

/** Service `i`: its file's place and its intent (with its own VIPs and names). */
const generatedService = (i: number) =>
  fc.record({
    folder: fc.oneof({ arbitrary: fc.constantFrom('p', 'p/deep'), weight: 4 }, fc.constant('web')),
    file: SERVICE_FILES,
    intent: generate(schemas.service, serviceOverride(i)),
  });

const sample = fc.record({
  mode: fc.constantFrom('anycast', 'vrrp', 'script'),
  site: fc.record(
    {
      tls: generate(prop(schemas.site, 'tls'), siteOverride),
      management: generate(prop(schemas.site, 'management'), siteOverride),
      health: generate(prop(schemas.site, 'health'), healthOverride),
      instances: generate(prop(schemas.site, 'instances'), siteOverride),
      dns: generate(prop(schemas.site, 'dns'), siteOverride),
      bgp: generate(prop(schemas.site, 'ha', 'bgp'), siteOverride),
      vrrp: generate(prop(schemas.site, 'ha', 'vrrp'), siteOverride),
    },
    { requiredKeys: ['bgp', 'vrrp'] },
  ),
  defaults: fc.option(generate(schemas.defaults, serviceOverride(9)), { freq: 3 }),
  services: fc
    .tuple(generatedService(0), fc.option(generatedService(1), { freq: 2 }))
    .map((xs) => xs.filter((x) => x !== null)),
});
type Sample = typeof sample extends fc.Arbitrary<infer T> ? T : never;

function siteFiles(s: Sample, bundle: string): Record<string, string> {
  const site = parse(BASE_SITE['site.yaml']!) as Record<string, unknown>;
  const { bgp, vrrp, ...rest } = s.site;
  Object.assign(site, rest);
  site.ha =
    s.mode === 'anycast'
      ? { mode: 'anycast', bgp }
      : s.mode === 'vrrp'
        ? { mode: 'vrrp', vrrp }
        : { mode: 'script', script: { name: 'ipaddr' } };
  site.checks = CHECK_COMMANDS;
  const files: Record<string, string> = withFiles(BASE_SITE, {
    'site.yaml': stringify(site),
    'certs/star.pem': bundle,
  });
  if (s.defaults !== null) files['services/p/defaults.yaml'] = stringify(s.defaults);
  s.services.forEach((x, i) => {
    files[`services/${x.folder}/${x.file}${i}.yaml`] = stringify(x.intent);
  });
  return files;
}

it('check exit 0 implies build with the real tools exits 0', { timeout: 600_000 }, async () => {
  const tools = allValidators().map((v) => v.tool);
  for (const t of tools) requireTool(t);
  requireRoot(); // nft -c and keepalived -t run in a throwaway network namespace
  const bundle = certBundle(['*.test.example', `*.${'a'.repeat(63)}.test.example`]);
  let accepted = 0;
  const checkedBy = new Map<string, number>(tools.map((t) => [t, 0]));
  const started = Date.now();
  let compileMs = 0;
  const toolMs = new Map<string, number>();
  const property = fc.asyncProperty(sample, async (s) => {
    const files = siteFiles(s, bundle);
    const t0 = Date.now();
    const run = await compileFiles(files);
    compileMs += Date.now() - t0;
    if (!run.model) {
      if (process.env.PROP_DEBUG)
        console.log(
          'REJ',
          [
            ...new Set(
              run.all
                .filter((d) => d.severity === 'error')
                .map((d) => `${d.code}:${d.path ?? ''}=${d.message.slice(0, 90)}`),
            ),
          ].join('\n'),
        );
      return;
    }
    const icinga = accepted % ICINGA_EVERY === 0;
    accepted++;
    const nodes = renderBuild(run.model, run.loaded.sources, run.loaded.certs);
    await withTempDir(async (dir) => {
      for (const n of nodes) {
        const nodeDir = join(dir, n.name);
        writeFiles(nodeDir, n.files);
        // healthd's own loader is the tool that reads healthd.yaml.
        const healthd = n.files.find((f) => f.path === 'healthd.yaml');
        if (healthd !== undefined)
          assert.deepEqual(
            parseHealthdConfig(healthd.content, join(nodeDir, 'healthd.yaml')).diagnostics.map(
              (d) => `${d.code} ${d.path ?? ''}: ${d.message}`,
            ),
            [],
            `check accepted, healthd refused ${n.name}/healthd.yaml`,
          );
        for (const v of allValidators()) {
          if (v.tool === 'icinga2' && !icinga) continue;
          for (const unit of v.units(n.files.map((f) => f.path))) {
            const t1 = Date.now();
            const rejected = await v.validate(unit, nodeDir, 2);
            toolMs.set(v.tool, (toolMs.get(v.tool) ?? 0) + Date.now() - t1);
            // `haproxy -c -q` says nothing on failure; ask again without -q for the reason.
            for (const r of rejected)
              if (v.tool === 'haproxy')
                r.output = (await runTool('haproxy', ['-c', '-f', join(nodeDir, r.path)])).output;
            checkedBy.set(v.tool, checkedBy.get(v.tool)! + 1);
            const shown = Object.fromEntries(
              Object.entries(files).filter(
                ([p]) => !p.startsWith('certs/') && !(p in BASE_SITE && BASE_SITE[p] === files[p]),
              ),
            );
            assert.deepEqual(
              rejected.map((r) => `${v.tool} ${n.name}/${r.path}:\n${r.output.replaceAll(dir, 'out')}`),
              [],
              `check accepted, ${v.tool} rejected; changed files:\n${Object.entries(shown)
                .map(([p, t]) => `--- ${p}\n${t}`)
                .join('')}`,
            );
          }
        }
      }
    });
  });
  const out = await fc.check(property, {
    seed: SEED,
    numRuns: RUNS,
    // Shrinking re-runs the tools for every smaller candidate; stop it (and report the smallest
    // counter-example so far) after a while.
    interruptAfterTimeLimit: Number(process.env.FC_TIME_LIMIT_MS ?? 120_000),
  });
  if (out.interrupted && !out.failed) console.log(`interrupted after ${out.numRuns} runs`);
  if (out.failed)
    assert.fail(
      `counter-example (FC_SEED=${SEED} FC_RUNS=${RUNS}, path ${out.counterexamplePath}):\n${String(out.errorInstance)}`,
    );
  if (process.env.PROP_DEBUG)
    console.log(
      `accepted ${accepted} of ${RUNS} in ${Date.now() - started} ms (compile ${compileMs} ms)`,
      Object.fromEntries(checkedBy),
      Object.fromEntries(toolMs),
    );
  // The property must bite: a generator the compiler nearly always rejects proves nothing.
  assert.ok(
    accepted >= RUNS * 0.05,
    `only ${accepted} of ${RUNS} samples passed check: the generator tests too little`,
  );
  for (const [tool, n] of checkedBy) assert.ok(n > 0, `${tool} never validated a sample`);
});
