// The client load of bench/lab/failover.ts, run inside the lab's client namespace with plain node:
//
//   node failover-loader.mjs <host> <port> <every_ms> <duration_ms> <timeout_ms>
//
// One new TCP connection per request (so the router's L4 ECMP hash spreads them over the nodes),
// one request started every <every_ms> on a fixed schedule, each given <timeout_ms>. Prints
// `start <epoch ms>` when it begins and, after <duration_ms> plus the last timeout, one JSON line:
// {"results": [[start, end, ok, detail], ...]} with epoch milliseconds. Stops by itself; SIGTERM
// ends it early (no new requests, the pending ones finish or time out, then the report).
import net from 'node:net';

const [host, portArg, everyArg, durationArg, timeoutArg] = process.argv.slice(2);
const port = Number(portArg);
const every = Number(everyArg);
const duration = Number(durationArg);
const timeout = Number(timeoutArg);
const now = () => performance.timeOrigin + performance.now();
const request = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: failover\r\nConnection: close\r\n\r\n`,
);
const results = [];
let pending = 0;

function one() {
  const start = now();
  const row = [start, 0, 0, ''];
  results.push(row);
  pending++;
  let got = '';
  let done = false;
  const finish = (ok, detail) => {
    if (done) return;
    done = true;
    pending--;
    row[1] = now();
    row[2] = ok ? 1 : 0;
    row[3] = detail;
    clearTimeout(timer);
    s.destroy();
  };
  const s = net.connect({ host, port });
  const timer = setTimeout(() => finish(false, 'timeout'), timeout);
  s.on('connect', () => s.write(request));
  s.on('data', (d) => {
    got += d.toString('latin1');
  });
  s.on('end', () => {
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1];
    // Which LB node passed it on: the lab's HTTP backends echo the peer address they saw.
    const via = /"client":"([^"]+)"/.exec(got)?.[1] ?? '';
    if (status !== undefined && Number(status) < 500) finish(true, via || status);
    else finish(false, status === undefined ? 'no answer' : `HTTP ${status}`);
  });
  s.on('error', (e) => finish(false, e.code ?? String(e)));
}

const t0 = now();
process.stdout.write(`start ${t0}\n`);
let fired = 0;
let limit = Math.ceil(duration / every);
const tick = setInterval(() => {
  const due = Math.min(Math.floor((now() - t0) / every) + 1, limit);
  while (fired < due) {
    fired++;
    one();
  }
  if (fired >= limit) clearInterval(tick);
}, 1);
let hardStop = setTimeout(() => report(), duration + timeout + 2000);
const poll = setInterval(() => {
  if (fired >= limit && pending === 0) report();
}, 20);
process.on('SIGTERM', () => {
  limit = fired;
  clearInterval(tick);
  clearTimeout(hardStop);
  hardStop = setTimeout(() => report(), timeout + 500);
});

function report() {
  clearInterval(tick);
  clearInterval(poll);
  clearTimeout(hardStop);
  for (const r of results) if (r[1] === 0) Object.assign(r, { 1: now(), 2: 0, 3: 'unfinished' });
  process.stdout.write(`${JSON.stringify({ results })}\n`, () => process.exit(0));
}
