// The floor the health checker is compared with in bench/healthd/daemon.ts: the same HTTP checks
// at the same rate (`rate` a second, started in 50 ms slots like healthd's scheduler) done the
// cheapest way node:net allows (connect, write the request, read the status line, reset), with
// nothing around them: no scheduler, no decisions, no metrics, no pid probes, no BIRD. Runs until
// killed.
//
//   node bench/healthd/floor.mjs <port> <path> <rate>
import { connect } from 'node:net';

const [port, path, rate] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\nUser-Agent: floor\r\n\r\n`;
const buffer = Buffer.alloc(2048);
let failed = 0;

function check() {
  let settled = false;
  const finish = (ok) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (!socket.destroyed && !socket.connecting) socket.resetAndDestroy();
    else socket.destroy();
    if (!ok) failed++;
  };
  const socket = connect({
    host: '127.0.0.1',
    port,
    onread: {
      buffer,
      callback: (n) => {
        finish(n >= 12 && buffer[9] === 0x32); // "HTTP/1.x 2"
        return true;
      },
    },
  });
  const timer = setTimeout(() => finish(false), 1000);
  socket.on('error', () => finish(false));
  socket.on('close', () => finish(false));
  socket.write(request, 'latin1');
}

const perSlot = rate / 20;
let owed = 0;
setInterval(() => {
  owed += perSlot;
  for (; owed >= 1; owed--) check();
}, 50);
process.on('SIGTERM', () => {
  if (failed > 0) console.error(`floor: ${failed} checks failed`);
  process.exit(0);
});
