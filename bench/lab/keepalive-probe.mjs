// A lab probe run with plain node inside the client's namespace (bench/lab/failover.ts,
// test/integration/lab-anycast.test.ts):
//
//   node keepalive-probe.mjs <host> <port> <connections> <duration_ms> <every_ms>
//
// Opens <connections> HTTP/1.1 keep-alive connections one after another (so the router's L4 ECMP
// hash spreads them over the nodes) and sends one request on each; then, until <duration_ms> from
// the start, a request on each every <every_ms>, as long-lived clients would. Prints one JSON
// line: {"connections": [[first, then], ...]}: `first` is the address the backend saw on the first
// request (which LB node passed it on) or its error; `then` is the first later answer that differs
// from it (another node, or an error), or `first` again when every answer was the same. Every
// request has a timeout: it stops by itself.
import net from 'node:net';

const [host, portArg, countArg, durationArg, everyArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const duration = Number(durationArg);
const every = Number(everyArg);
const t0 = Date.now();

/** One connection: resolves with an `ask()` that sends a request and reads one whole answer. */
function open() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    let waiting = null;
    let failure = null;
    const settle = () => {
      if (waiting === null) return;
      if (failure !== null) {
        const w = waiting;
        waiting = null;
        w(failure);
        return;
      }
      const head = buffer.indexOf('\r\n\r\n');
      if (head < 0) return;
      const headers = buffer.subarray(0, head).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? 'NaN');
      if (!Number.isFinite(length) || buffer.length < head + 4 + length) return;
      const body = buffer.subarray(head + 4, head + 4 + length).toString('utf8');
      buffer = buffer.subarray(head + 4 + length);
      const status = Number(headers.split(' ')[1]);
      const via = /"client":"([^"]+)"/.exec(body)?.[1];
      const w = waiting;
      waiting = null;
      w(status === 200 && via !== undefined ? via : `HTTP ${status}`);
    };
    const ask = () =>
      new Promise((done) => {
        const timer = setTimeout(() => {
          failure = 'timeout';
          settle();
        }, 2000);
        waiting = (r) => {
          clearTimeout(timer);
          done(r);
        };
        if (failure !== null) settle();
        else s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: keepalive-probe\r\n\r\n`);
      });
    s.on('data', (d) => {
      buffer = Buffer.concat([buffer, d]);
      settle();
    });
    s.on('error', (e) => {
      failure = e.code ?? String(e);
      settle();
    });
    s.on('close', () => {
      failure ??= 'closed';
      settle();
    });
    s.on('connect', () => {
      s.setTimeout(0);
      resolve({ ask, close: () => s.destroy() });
    });
    s.setTimeout(2000, () => {
      failure ??= 'connect timeout';
      s.destroy();
      resolve({ ask: async () => failure, close: () => {} });
    });
  });
}

const conns = [];
for (let i = 0; i < count; i++) conns.push(await open());
const first = [];
for (const c of conns) first.push(await c.ask());
const then = [...first];
const changed = first.map(() => false);
while (Date.now() + every < t0 + duration) {
  await new Promise((r) => setTimeout(r, every));
  const answers = await Promise.all(conns.map((c, i) => (changed[i] ? then[i] : c.ask())));
  for (const [i, a] of answers.entries()) {
    if (!changed[i] && a !== first[i]) {
      changed[i] = true;
      then[i] = a;
    }
  }
}
for (const c of conns) c.close();
process.stdout.write(`${JSON.stringify({ connections: first.map((f, i) => [f, then[i]]) })}\n`);
process.exit(0);
