import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { safeJson, visible } from '../diagnostics/visible.ts';
import { formatConfigProblem, readControlPath } from '../healthd/config.ts';
import {
  type ControlRequest,
  HealthdControlError,
  healthdControl,
  type OkReply,
} from '../healthd/control-client.ts';
import { HealthdConfigError, HealthdDaemon } from '../healthd/daemon.ts';
import type { HealthdStatus } from '../healthd/status.ts';
import { type CliIo, UsageError } from './io.ts';

const WITHDRAW_TIMEOUT_MS = 30_000;
const QUICK_TIMEOUT_MS = 5_000;

interface HealthdOpts {
  config?: string;
  socket?: string;
  timeout?: string;
  format?: 'text' | 'json';
}

/**
 * `intentlb healthd --config <healthd.yaml>` runs the anycast health checker in the foreground;
 * `intentlb healthd status|drain|undrain|hold <vip>|release <vip>|reload|reconcile` talk to the running one
 * through the control socket named in the same file.
 */
export function registerHealthd(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const healthd = program
    .command('healthd')
    .description(
      'run the anycast health checker in the foreground (SIGTERM/SIGINT: withdraw every VIP, then exit; ' +
        'SIGHUP: reload), or talk to the running one with a subcommand',
    )
    .option('--config <file>', 'healthd.yaml, as build writes it (out/<node>/healthd.yaml)')
    .option('--socket <path>', "control socket (default: the config's `control:`)")
    .action(async (opts: HealthdOpts) => {
      if (opts.config === undefined) throw new UsageError('healthd: --config <healthd.yaml> is required');
      setExit(await runDaemon(resolve(io.cwd, opts.config), io));
    });

  const client = (
    name: string,
    description: string,
    request: (args: string[], opts: HealthdOpts) => ControlRequest,
    timeout: number,
  ): Command => {
    const cmd = healthd
      .command(name)
      .description(description)
      .configureHelp({ showGlobalOptions: true })
      .action(async (...args: unknown[]) => {
        const command = args[args.length - 1] as Command;
        const opts = command.optsWithGlobals<HealthdOpts>();
        const positional = args.slice(0, -2).map(String);
        const timeoutMs = opts.timeout === undefined ? timeout : parseTimeout(opts.timeout);
        setExit(await runClient(request(positional, opts), opts, timeoutMs, io));
      });
    return cmd;
  };

  client(
    'status',
    'show every VIP: health, announcement, BIRD, holds',
    () => ({ cmd: 'status' }),
    QUICK_TIMEOUT_MS,
  ).addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'));
  client(
    'drain',
    'withdraw every VIP of this node (BGP sessions stay up); returns once BIRD confirmed and the network converged',
    () => ({ cmd: 'drain' }),
    WITHDRAW_TIMEOUT_MS,
  ).option('--timeout <ms>', `give up waiting after this long (default ${WITHDRAW_TIMEOUT_MS})`);
  client(
    'undrain',
    'end a drain: VIPs come back as their checks pass',
    () => ({ cmd: 'undrain' }),
    QUICK_TIMEOUT_MS,
  );
  client(
    'hold',
    'withdraw one VIP and keep it withdrawn until release; returns once BIRD confirmed and the network converged',
    ([vip]) => ({ cmd: 'hold', vip: vip! }),
    WITHDRAW_TIMEOUT_MS,
  )
    .argument('<vip>', 'the VIP (HAProxy instance) name, as in healthd.yaml')
    .option('--timeout <ms>', `give up waiting after this long (default ${WITHDRAW_TIMEOUT_MS})`);
  client(
    'release',
    'end a hold: the VIP is announced again once its checks pass rise times',
    ([vip]) => ({ cmd: 'release', vip: vip! }),
    QUICK_TIMEOUT_MS,
  ).argument('<vip>', 'the VIP (HAProxy instance) name');
  client('reload', 're-read healthd.yaml (like SIGHUP)', () => ({ cmd: 'reload' }), QUICK_TIMEOUT_MS);
  client(
    'reconcile',
    'send the whole desired state to BIRD now (after a `birdc configure`, which disables every VIP protocol)',
    () => ({ cmd: 'reconcile' }),
    QUICK_TIMEOUT_MS,
  ).option('--timeout <ms>', `give up waiting after this long (default ${QUICK_TIMEOUT_MS})`);
}

function parseTimeout(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) {
    throw new UsageError(`--timeout: expected milliseconds (1..3600000), got ${text}`);
  }
  return ms;
}

async function runDaemon(configPath: string, io: CliIo): Promise<number> {
  let daemon: HealthdDaemon;
  try {
    daemon = await HealthdDaemon.start({ configPath, log: { write: (line) => io.stdout(line) } });
  } catch (err) {
    if (err instanceof HealthdConfigError) {
      for (const p of err.problems) io.stderr(`${visible(formatConfigProblem(p))}\n`);
      io.stderr(`healthd: ${err.problems.length} problem(s) in the configuration; not started\n`);
    } else {
      io.stderr(`healthd: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return 1;
  }
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      io.stderr(`healthd: second ${signal}: exiting without waiting for the withdraw\n`);
      process.exit(1);
    }
    void daemon.shutdown(signal);
  };
  const reload = (): void => {
    void daemon.reload();
  };
  // A checker that crashed cannot prove the node serves: withdraw everything, then exit non-zero
  // (the service manager restarts it, and the restart reconciles).
  let fatal = false;
  const crash = (err: unknown): void => {
    io.stderr(`healthd: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (fatal) return;
    fatal = true;
    void daemon.shutdown('fatal error');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    await daemon.done;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
    process.off('uncaughtException', crash);
    process.off('unhandledRejection', crash);
  }
  return fatal ? 70 : 0;
}

async function runClient(
  request: ControlRequest,
  opts: HealthdOpts,
  timeoutMs: number,
  io: CliIo,
): Promise<number> {
  let socket = opts.socket === undefined ? undefined : resolve(io.cwd, opts.socket);
  if (socket === undefined) {
    if (opts.config === undefined)
      throw new UsageError('healthd: --config <healthd.yaml> (or --socket) is required');
    const found = await readControlPath(resolve(io.cwd, opts.config));
    if (found.path === undefined) {
      if (found.problem !== undefined) io.stderr(`${visible(formatConfigProblem(found.problem))}\n`);
      return 1;
    }
    socket = found.path;
  }
  try {
    const reply = await healthdControl(socket, request, timeoutMs);
    if (!reply.ok) {
      io.stderr(
        visible(`healthd: ${reply.cmd ?? request.cmd} refused (${reply.code}): ${reply.error}\n`, {
          multiline: true,
        }),
      );
      for (const p of reply.problems ?? []) io.stderr(`  ${visible(p)}\n`);
      return 1;
    }
    // VIP names come from the site's files and check errors from backends' answers.
    io.stdout(visible(describe(reply, opts.format ?? 'text'), { multiline: true }));
    return 0;
  } catch (err) {
    if (err instanceof HealthdControlError) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function describe(reply: OkReply, format: 'text' | 'json'): string {
  switch (reply.cmd) {
    case 'status':
      return format === 'json' ? `${safeJson(reply.status)}\n` : statusText(reply.status);
    case 'hold':
    case 'drain': {
      const what =
        reply.cmd === 'hold' ? `held ${reply.vips.join(', ')}` : `drained ${reply.vips.length} VIP(s)`;
      const converged = reply.converged ? ', network converged' : '; it was not announced';
      return `${what}: withdrawn and confirmed after ${reply.waited_ms} ms${converged}\n`;
    }
    case 'release':
      return `released ${reply.vips.join(', ')}: announced again once its checks pass\n`;
    case 'undrain':
      return 'undrained: VIPs are announced again as their checks pass\n';
    case 'reconcile':
      return `reconciled ${reply.protocols} protocol(s) with BIRD in ${reply.waited_ms} ms\n`;
    case 'reload': {
      const list = (label: string, names: readonly string[]) =>
        names.length === 0 ? [] : [`${label} ${names.join(', ')}`];
      const parts = [
        ...list('added', reply.added),
        ...list('removed', reply.removed),
        ...list('changed', reply.changed),
      ];
      return `reloaded${parts.length === 0 ? ': no VIP changed' : `: ${parts.join('; ')}`}\n`;
    }
  }
}

/** A table for people; `--format json` for tools. */
export function statusText(s: HealthdStatus): string {
  const bird = s.bird.managed
    ? `bird ${s.bird.connected ? 'connected' : 'NOT connected'} (${s.bird.socket}, ${s.bird.reconciles} reconcile(s))`
    : 'bird not used';
  const lines = [`${s.node} (${s.mode}), pid ${s.pid}, ${bird}${s.draining ? ', DRAINED' : ''}`];
  const rows = s.vips.map((v) => [
    v.name,
    v.health,
    v.announced ? 'yes' : 'no',
    v.bird,
    [
      v.held ? 'held' : '',
      v.drained ? 'drained' : '',
      v.removing ? 'removing' : '',
      v.hold_down_until ? 'hold-down' : '',
    ]
      .filter((x) => x !== '')
      .join(',') || '-',
    v.last_check === undefined
      ? '-'
      : `${v.last_check.ok ? 'ok' : 'FAIL'} ${v.last_check.latency_ms.toFixed(1)} ms${v.last_check.error ? ` (${v.last_check.error})` : ''}`,
  ]);
  const header = ['VIP', 'HEALTH', 'ANNOUNCED', 'BIRD', 'FLAGS', 'LAST CHECK'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  return `${lines.join('\n')}\n`;
}
