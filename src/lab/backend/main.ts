/**
 * Entry point of the lab's backend server, run once per backend host inside its namespace:
 *
 *     node --import tsx src/lab/backend/main.ts --host web1 --listen http:198.18.1.10:8080 \
 *       --listen smtp:198.18.1.10:25 --control /run/intentlb-lab/web1.sock
 *
 * Prints one JSON line on stdout once every port listens:
 * `{"event":"ready","host":...,"pid":...,"listen":[...],"control":...}`. Exits 0 on SIGTERM/SIGINT
 * after closing everything, 2 on a bad command line, 1 when it cannot start.
 */
import { parseCli, USAGE } from './cli.ts';
import { type ControlHandle, startControl } from './control.ts';
import { formatListenSpec } from './listen-spec.ts';
import { type BackendHandle, type BackendOptions, startBackend } from './server.ts';
import { readTlsMaterial } from './tls.ts';

function fail(message: string, code: number): never {
  process.stderr.write(`intentlb-lab-backend: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const parsed = parseCli(process.argv.slice(2));
  if (parsed.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (parsed.kind === 'error') fail(`${parsed.message}\n${USAGE}`, 2);
  const cli = parsed.options;

  const opts: BackendOptions = { host: cli.host, listen: cli.listen };
  if (cli.proxyWaitMs !== null) opts.proxyWaitMs = cli.proxyWaitMs;

  let backend: BackendHandle | null = null;
  let control: ControlHandle | null = null;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await control?.close();
      await backend?.close();
    })();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      void stop().then(
        () => process.exit(0),
        (err: unknown) => fail(`stopping: ${String(err)}`, 1),
      );
    });
  }
  process.on('SIGUSR1', () => {
    if (backend === null || stopping !== null) return;
    const next = backend.mode === 'ok' ? 'fail503' : 'ok';
    backend
      .setMode(next)
      .catch((err: unknown) => process.stderr.write(`intentlb-lab-backend: ${String(err)}\n`));
  });

  try {
    if (cli.tls !== null) opts.tls = await readTlsMaterial(cli.tls.certFile, cli.tls.keyFile);
    backend = await startBackend(opts);
    if (stopping !== null) return void (await backend.close()); // a signal arrived while starting
    if (cli.control !== null) control = await startControl(cli.control, backend);
  } catch (err) {
    await stop().catch(() => {});
    fail(`cannot start: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
  const ready = {
    event: 'ready',
    host: backend.host,
    pid: process.pid,
    listen: backend.listeners.map(formatListenSpec),
    control: cli.control,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

await main();
