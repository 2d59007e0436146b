import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A stand-in for BIRD's control socket that speaks the reply formats recorded from bird 2.0.12
 * (test/runtime/fixtures): enable/disable with 0008..0011, 8003 for an unknown protocol, and
 * `show protocols` as 2002/1002 lines. It can do what the real one does to healthd: reset every
 * protocol (`configure`), restart (connection lost, protocols back to disabled), answer slowly
 * or refuse. The real BIRD runs in the integration tests; this one makes the edge cases exact.
 */
export class FakeBird {
  readonly path: string;
  /** BGP sessions `show protocols` lists: name → established. */
  readonly bgp = new Map<string, boolean>([
    ['rr1', true],
    ['rr2', false],
  ]);
  readonly protocols: Map<string, boolean>;
  /** Every command received, in order. */
  readonly commands: string[] = [];
  /** The enable/disable commands of each pipelined batch that ended in a `show protocols`. */
  readonly batches: string[][] = [];
  /** Protocols whose enable/disable is answered 8003, as if BIRD did not know them. */
  readonly refuse = new Set<string>();
  /** Delay before each answer. */
  delayMs = 0;
  /** Called on a `configure` command (answered 0003; the protocols keep their state). */
  onConfigure: (() => void) | undefined;
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  private readonly configured: ReadonlyMap<string, boolean>;

  constructor(path: string, protocols: readonly string[]) {
    this.path = path;
    this.configured = new Map(protocols.map((p) => [p, false]));
    this.protocols = new Map(this.configured);
  }

  async start(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((conn) => this.serve(conn));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
  }

  /** Like BIRD's `configure`: every protocol back to its configured `disabled`. */
  configure(): void {
    for (const p of this.configured.keys()) this.protocols.set(p, false);
  }

  /** BIRD died: connections closed, socket gone. */
  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  /** BIRD restarted: protocols as configured (disabled). */
  async restart(): Promise<void> {
    await this.stop();
    this.configure();
    await this.start();
  }

  enabled(protocol: string): boolean | undefined {
    return this.protocols.get(protocol);
  }

  private serve(conn: Socket): void {
    this.conns.add(conn);
    conn.on('close', () => this.conns.delete(conn));
    conn.on('error', () => conn.destroy());
    conn.write('0001 BIRD 2.0.12 ready.\n');
    let buffered = '';
    let batch: string[] = [];
    conn.setEncoding('utf8');
    conn.on('data', (text: string) => {
      buffered += text;
      const answers: string[] = [];
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const cmd = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.commands.push(cmd);
        if (cmd === 'show protocols') {
          if (batch.length > 0) this.batches.push(batch);
          batch = [];
        } else batch.push(cmd);
        answers.push(this.answer(cmd));
      }
      const out = answers.join('');
      if (this.delayMs > 0) setTimeout(() => conn.writable && conn.write(out), this.delayMs);
      else conn.write(out);
    });
  }

  private answer(cmd: string): string {
    if (cmd === 'configure') {
      this.onConfigure?.();
      return '0003 Reconfigured\n';
    }
    const change = /^(enable|disable) "([A-Za-z0-9_]+)"$/.exec(cmd);
    if (change !== null) {
      const enable = change[1] === 'enable';
      const name = change[2]!;
      const current = this.protocols.get(name);
      if (current === undefined || this.refuse.has(name)) return '8003 No protocols match\n';
      this.protocols.set(name, enable);
      const code = enable ? (current ? '0010' : '0011') : current ? '0009' : '0008';
      const text = enable
        ? current
          ? 'already enabled'
          : 'enabled'
        : current
          ? 'disabled'
          : 'already disabled';
      return `${code}-${name}: ${text}\n0000 \n`;
    }
    if (cmd === 'show protocols') {
      const lines = ['2002-Name       Proto      Table      State  Since         Info'];
      let first = true;
      for (const [name, on] of [['device1', true] as const, ...this.protocols]) {
        const row = `${name.padEnd(10)} ${name === 'device1' ? 'Device    ' : 'Static    '} ${name === 'device1' ? '---       ' : 'master4   '} ${on ? 'up   ' : 'down '}  12:00:00.000  `;
        lines.push(first ? `1002-${row}` : ` ${row}`);
        first = false;
      }
      for (const [name, established] of this.bgp) {
        lines.push(
          ` ${name.padEnd(10)} BGP        ---        ${established ? 'up   ' : 'start'}  12:00:00.000  ${established ? 'Established' : 'Active        Socket: Connection refused'}`,
        );
      }
      return `${lines.join('\n')}\n0000 \n`;
    }
    return '9001 syntax error\n';
  }
}
