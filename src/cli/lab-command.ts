import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { visible } from '../diagnostics/index.ts';
import { messageOf } from '../errors.ts';
import { MODES } from '../lab/backend/types.ts';
import { setBackendMode } from '../lab/backend-control.ts';
import { flowsText } from '../lab/flow-pinning.ts';
import {
  hostNamespace,
  LabError,
  type LabSite,
  type LabTarget,
  labApply,
  labDown,
  labUp,
} from '../lab/lab.ts';
import { LINK_STATES, type LinkState, setLink } from '../lab/link.ts';
import { IP } from '../lab/netns.ts';
import { BASIC_TOOLS, preflight } from '../lab/preflight.ts';
import { BACKENDS_HELP, parseBackends } from '../lab/real/index.ts';
import { ROUTER_KINDS, type RouterKind } from '../lab/router-driver.ts';
import { labInventory } from '../lab/ssh.ts';
import { defaultLabDir, type LabState, readState } from '../lab/state.ts';
import { formatStatus, labStatus } from '../lab/status.ts';
import { DEFAULT_PREFIX, inventoryHosts, isValidPrefix } from '../lab/topology.ts';
import type { Model } from '../model/types.ts';
import { validateSite } from '../validate/index.ts';
import { protocol } from '../vocabulary/protocols.ts';
import { type CliIo, UsageError } from './io.ts';
import { compileSite, report } from './site-input.ts';

interface TargetOptions {
  prefix: string;
  dir?: string;
}

/**
 * `intentlb lab up|apply|status|down|exec|mode|link`: a whole site on this machine in network
 * namespaces — a router running BIRD, the LB nodes deployed with `intentlb apply`, backend hosts
 * and a client.
 */
export function registerLab(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const lab = program
    .command('lab')
    .description(
      'run a whole site on this machine in network namespaces: router (BIRD), LB nodes, backends, client',
    )
    .enablePositionalOptions();

  const targetOf = (o: TargetOptions): LabTarget => {
    if (!isValidPrefix(o.prefix)) {
      throw new UsageError(`--prefix "${o.prefix}": 1-16 of A-Z a-z 0-9 _ . - (not starting with . _ -)`);
    }
    return { prefix: o.prefix, dir: resolve(io.cwd, o.dir ?? defaultLabDir(o.prefix)) };
  };
  const withTarget = (cmd: Command): Command =>
    cmd
      .option(
        '--prefix <prefix>',
        'namespace prefix of the lab (namespaces are <prefix><host>)',
        DEFAULT_PREFIX,
      )
      .option('--dir <dir>', 'the lab state folder (default /run/intentlb-lab/<prefix>)');
  const guarded =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await fn(...args);
      } catch (e) {
        if (!(e instanceof LabError)) throw e;
        io.stderr(`intentlb lab: ${e.message}\n`);
        setExit(1);
      }
    };
  const needBasics = (): void => {
    const problems = preflight(BASIC_TOOLS);
    if (problems.length > 0) throw new LabError(problems.join('\n'));
  };
  const running = (t: LabTarget): LabState => {
    const s = readState(t.dir);
    if (s === undefined) throw new LabError(`no lab is up in ${t.dir}`);
    return s;
  };
  const loadSite = async (dir: string): Promise<LabSite | undefined> => {
    const run = await compileSite(dir, io);
    if (report(run, io) || run.model === undefined) {
      io.stderr('lab: the site has errors; nothing done\n');
      setExit(1);
      return undefined;
    }
    const groups = validateSite(run.loaded).value?.groups ?? new Map();
    return { dir: run.root, model: run.model, inventory: inventoryHosts(groups) };
  };
  const progress = (line: string): void => io.stderr(`lab: ${line}\n`);

  withTarget(
    lab
      .command('up')
      .description('bring the site up: namespaces, router, backend hosts, LB nodes (intentlb apply), client')
      .argument('<site>', 'the site folder')
      .option(
        '--static-vips',
        'route every VIP to every LB node statically (ECMP) instead of learning it by BGP',
      )
      .option(
        '--plain-ecmp',
        'route each packet by the ECMP hash alone: connections move between nodes when a VIP gains or loses one (default: the router keeps each connection on its node)',
      )
      .option('--no-deploy', 'wire the network, router and backends only; deploy the LB nodes yourself')
      .option('--backends <kind>', `what serves the backend hosts: ${BACKENDS_HELP}`, 'builtin')
      .addOption(
        new Option(
          '--router <daemon>',
          "the lab router's daemon: BIRD or FRRouting (bgpd, bfdd, zebra, staticd)",
        )
          .choices(ROUTER_KINDS)
          .default('bird'),
      ),
  ).action(
    guarded(
      async (
        site: string,
        o: TargetOptions & {
          staticVips?: boolean;
          plainEcmp?: boolean;
          deploy: boolean;
          backends: string;
          router: RouterKind;
        },
      ) => {
        const t = targetOf(o);
        const realBackends = parseBackends(o.backends);
        if ('error' in realBackends) throw new UsageError(realBackends.error);
        const s = await loadSite(site);
        if (s === undefined) return;
        const r = await labUp(s, {
          ...t,
          staticVips: o.staticVips === true,
          plainEcmp: o.plainEcmp === true,
          deploy: o.deploy,
          realBackends,
          router: o.router,
          progress,
        });
        for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
        const hosts = r.state.topology.hosts;
        const count = (role: string): number => hosts.filter((h) => h.role === role).length;
        const hint = tryHint(s.model);
        io.stdout(
          `lab "${t.prefix}": ${s.model.site.name} up in ${(r.ms / 1000).toFixed(1)} s — ${hosts.length} hosts ` +
            `(router, client, ${count('node')} LB nodes, ${count('backend')} backend hosts${realText(r.state)}), VIPs routed by ${r.state.routing}` +
            flowsText(r.state.flows) +
            `${r.state.deploy ? '' : ', LB nodes not deployed'}\n` +
            (hint === undefined ? '' : `  try: intentlb lab exec client -- ${hint}\n`),
        );
      },
    ),
  );

  withTarget(
    lab
      .command('apply')
      .description('re-deploy a changed site to every LB node of the running lab (intentlb apply in each)')
      .argument('<site>', 'the site folder'),
  ).action(
    guarded(async (site: string, o: TargetOptions) => {
      const t = targetOf(o);
      const s = await loadSite(site);
      if (s === undefined) return;
      const st = await labApply(s, { ...t, progress });
      io.stdout(
        `lab "${t.prefix}": ${visible(s.model.site.name)} applied to ${st.nodes.length} LB node(s)\n`,
      );
    }),
  );

  withTarget(
    lab
      .command('status')
      .description("hosts, namespaces, processes, the router's BGP sessions and its routes to the VIPs")
      .option('--format <format>', 'text or json', 'text'),
  ).action(
    guarded(async (o: TargetOptions & { format: string }) => {
      if (o.format !== 'text' && o.format !== 'json') throw new UsageError('--format is text or json');
      needBasics();
      const st = await labStatus(running(targetOf(o)));
      io.stdout(o.format === 'json' ? `${JSON.stringify(st, null, 2)}\n` : formatStatus(st));
      if (!st.healthy) setExit(1);
    }),
  );

  withTarget(
    lab.command('down').description('stop every process of the lab and remove its namespaces and files'),
  ).action(
    guarded(async (o: TargetOptions) => {
      needBasics();
      const t = targetOf(o);
      const r = await labDown(t);
      io.stdout(
        r.wasUp
          ? `lab "${t.prefix}": down in ${(r.ms / 1000).toFixed(1)} s\n`
          : `no lab is up in ${t.dir}; nothing to do\n`,
      );
    }),
  );

  withTarget(
    lab
      .command('exec')
      .description("run a command inside a lab host's namespace, e.g. lab exec client -- curl ...")
      .argument('<host>', 'router, client, an LB node or a backend host')
      .argument('<command...>', 'the command and its arguments (after --)')
      .passThroughOptions(),
  ).action(
    guarded(async (host: string, command: string[], o: TargetOptions) => {
      needBasics();
      const ns = hostNamespace(running(targetOf(o)), host);
      const argv = command[0] === '--' ? command.slice(1) : command;
      if (argv.length === 0) throw new UsageError('lab exec needs a command after the host');
      setExit(await execIn(ns, argv, io, labEnv(targetOf(o).dir)));
    }),
  );

  withTarget(
    lab
      .command('mode')
      .description(`make a backend host fail or recover: ${MODES.join(', ')}`)
      .argument('<host>', 'a backend host')
      .argument('<mode>', MODES.join(' | ')),
  ).action(
    guarded(async (host: string, mode: string, o: TargetOptions) => {
      const s = running(targetOf(o));
      const builtin = s.backends.filter((b) => b.listen.length > 0).map((b) => b.host);
      if (!builtin.includes(host)) {
        throw new LabError(
          s.backends.some((b) => b.host === host)
            ? `"${host}" runs Debian's daemons only (--backends real): stop one by its PID (lab status) to make it fail`
            : `"${host}" runs no backend (backend hosts: ${s.backends.map((b) => b.host).join(', ')})`,
        );
      }
      try {
        await setBackendMode(s.dir, host, mode);
      } catch (e) {
        throw e instanceof LabError ? e : new LabError(messageOf(e), { cause: e });
      }
      io.stdout(`${host}: ${mode}\n`);
    }),
  );

  withTarget(
    lab
      .command('link')
      .description(
        "take a host's link to the router down, drop every packet on it while it stays up (blackhole), or bring it back up with its addresses and default routes",
      )
      .argument('<host>', 'an LB node, a backend host or the client')
      .argument('<state>', LINK_STATES.join(' | ')),
  ).action(
    guarded(async (host: string, to: string, o: TargetOptions) => {
      needBasics();
      if (!(LINK_STATES as readonly string[]).includes(to)) {
        throw new UsageError(`lab link: state must be ${LINK_STATES.join(' or ')}, not "${to}"`);
      }
      const s = running(targetOf(o));
      try {
        await setLink(s, host, to as LinkState);
      } catch (e) {
        throw e instanceof LabError ? e : new LabError(messageOf(e), { cause: e });
      }
      io.stdout(`${host}: link ${to}\n`);
    }),
  );
}

/** Runs a command in a namespace; at a terminal it gets the terminal, otherwise its output goes through `io`. */
/** The environment of `lab exec`: Ansible finds the lab's nodes (rollout from the client). */
function labEnv(dir: string): NodeJS.ProcessEnv {
  const inventory = labInventory(dir);
  if (process.env.ANSIBLE_INVENTORY !== undefined || !existsSync(inventory)) return process.env;
  return { ...process.env, ANSIBLE_INVENTORY: inventory };
}

function execIn(ns: string, command: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  const [cmd, ...args] = command;
  return new Promise((done) => {
    const child = spawn(IP, ['netns', 'exec', ns, cmd!, ...args], {
      stdio: interactive ? 'inherit' : ['inherit', 'pipe', 'pipe'],
      env,
    });
    child.stdout?.on('data', (d: Buffer) => io.stdout(d.toString()));
    child.stderr?.on('data', (d: Buffer) => io.stderr(d.toString()));
    child.on('error', (e) => {
      io.stderr(`intentlb lab: ${e.message}\n`);
      done(127);
    });
    child.on('close', (code, signal) => done(code ?? (signal === null ? 1 : 128 + signalNumber(signal))));
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 1;
}

/** `, 10 real daemons (slapd, postfix)` for a lab with `--backends real`. */
function realText(s: LabState): string {
  const real = s.backends.flatMap((b) => b.real ?? []);
  return real.length === 0
    ? ''
    : ` with ${real.length} real daemons (${[...new Set(real.map((i) => i.daemon))].join(', ')})`;
}

/**
 * A first request to try from the client: curl to the first HTTP service's VIP and listener; none
 * when the site serves no HTTP (a curl to an LDAP or SMTP VIP would only print an error).
 */
export function tryHint(model: Model): string | undefined {
  for (const svc of model.services) {
    const vip = svc.vip ?? svc.vip6;
    const l = svc.listeners.find((x) => x.role === 'serve') ?? svc.listeners[0];
    if (vip === undefined || l === undefined || protocol(svc.protocol).mode !== 'http') continue;
    const scheme = l.tls ? 'https' : 'http';
    const port = l.port === (l.tls ? 443 : 80) ? '' : `:${l.port}`;
    return `curl -sk ${scheme}://${vip.includes(':') ? `[${vip}]` : vip}${port}/`;
  }
  return undefined;
}
