import { connect } from 'node:net';
import { OperationError } from './errors.ts';
import type { HealthdRequest } from './hooks.ts';

/**
 * Deploy's requests to healthd on its control socket (src/healthd/control-protocol.ts: one JSON
 * line each way): `hold <vip>` before a disruptive change, `reload` after healthd.yaml changed.
 */
export const healthdRequest: HealthdRequest = (socket, command, args) =>
  new Promise((resolve, reject) => {
    const req =
      command === 'hold' || command === 'release' ? { cmd: command, vip: args[0] } : { cmd: command };
    const s = connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new OperationError(`healthd ${command}: no answer in 30 s`));
    }, 30_000);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.end();
      const reply = JSON.parse(buf.slice(0, nl)) as { ok: boolean; error?: string };
      if (reply.ok) resolve();
      else reject(new OperationError(`healthd ${command} ${args.join(' ')}: ${reply.error ?? 'refused'}`));
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(new OperationError(`healthd ${command}: ${err.message}`));
    });
  });
