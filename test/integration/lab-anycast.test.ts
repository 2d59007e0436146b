import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { BIRD_NICE, HEALTHD_ENV, HEALTHD_NODE_OPTIONS } from '../../src/deploy/services/index.ts';
import { anycastScenario } from './anycast-scenario.ts';

// The anycast scenario (anycast-scenario.ts) with BIRD as the lab router; FRR's run is in
// test/interop/frr-router.test.ts.
anycastScenario({
  prefix: 'ilba-',
  router: 'bird',
  more: (lab) => {
    it("the supervisor runs healthd with the unit's node options and environment, BIRD at its niceness", async () => {
      const r = await lab.hd('status', '--format', 'json');
      assert.equal(r.code, 0, r.stderr);
      const pid = (JSON.parse(r.stdout) as { pid: number }).pid;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const option of HEALTHD_NODE_OPTIONS) assert.ok(argv.includes(option), argv.join(' '));
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      for (const [k, v] of Object.entries(HEALTHD_ENV)) assert.ok(environ.includes(`${k}=${v}`), `${k}=${v}`);
      // BIRD runs at the unit's niceness, every thread of it (BFD has its own).
      const bird = Number(readFileSync(join(lab.root('lb1'), 'run/intentlb/bird.pid'), 'utf8').trim());
      assert.match(readFileSync(`/proc/${bird}/cmdline`, 'utf8'), /bird/);
      for (const task of readdirSync(`/proc/${bird}/task`)) {
        const stat = readFileSync(`/proc/${bird}/task/${task}/stat`, 'utf8');
        const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
        assert.equal(nice, BIRD_NICE, `bird thread ${task}: nice ${nice}`);
      }
    });
  },
});
