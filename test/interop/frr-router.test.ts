import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { FRR_DAEMONS } from '../../src/lab/frr-router.ts';
import { isAlive } from '../../src/lab/processes.ts';
import { anycastScenario } from '../integration/anycast-scenario.ts';
import { cli } from '../lab/lab-client.ts';

// The anycast scenario (test/integration/anycast-scenario.ts) with FRRouting as the lab router
// (`lab up --router frr`): the same withdrawals, BFD failovers and drains as with BIRD.
const PREFIX = 'ilbq-';

anycastScenario({
  prefix: PREFIX,
  router: 'frr',
  more: (lab) => {
    it("lab status answers from FRR: both sessions up with BFD at the site's timings, every VIP from both nodes", async () => {
      const r = await cli(['lab', 'status', '--prefix', PREFIX, '--format', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(r.stdout) as {
        router: string;
        healthy: boolean;
        bgp: { name: string; state: string; info: string }[];
        routes: { vip: string; router: { protocol: string; via: string[] }[]; kernel: string[] }[];
      };
      assert.equal(st.router, 'frr');
      assert.equal(st.healthy, true);
      assert.deepEqual(
        st.bgp.map((b) => [b.name, b.state]),
        [
          ['rr1_lb1', 'up'],
          ['rr1_lb2', 'up'],
        ],
      );
      for (const b of st.bgp) assert.match(b.info, /BFD up 50\/50 ms x3/);
      for (const route of st.routes) {
        assert.deepEqual(route.router.map((x) => x.protocol).sort(), ['rr1_lb1', 'rr1_lb2'], route.vip);
        assert.equal(route.kernel.length, 2, route.vip);
      }
    });

    it('each FRR daemon is a process the lab recorded, with its pid file and sockets in the lab folder', () => {
      const s = lab.state();
      const router = s.processes.filter((p) => p.host === 'router');
      assert.deepEqual(router.map((p) => p.kind).sort(), [...FRR_DAEMONS].sort());
      for (const p of router) {
        assert.ok(isAlive(p), p.kind);
        assert.ok(p.command.every((a) => !a.startsWith('/etc/frr') && !a.startsWith('/var/run/frr')));
        // The recorded process is the daemon itself (`nice` execs it), the one its pid file names.
        const pid = Number(readFileSync(join(s.router.socket, `${p.kind}.pid`), 'utf8').trim());
        assert.equal(pid, p.pid, p.kind);
      }
    });
  },
});
