/** Runs a wiring plan (`wiring-plan.ts`): a handful of `ip -batch` processes instead of hundreds of `ip` calls. */
import { execFile } from 'node:child_process';
import { findTool } from '../build/run-tool.ts';
import { IP } from './netns.ts';
import { type IpBatch, planUnwiring, type WiringPlan } from './wiring-plan.ts';

/** Builds every namespace and link of the plan; throws with `ip`'s message on the first failure. */
export async function wire(plan: WiringPlan): Promise<void> {
  for (const phase of plan.phases) await Promise.all(phase.map((b) => runBatch(b)));
  await Promise.all(
    plan.sysctls.map((s) =>
      run(IP, [
        'netns',
        'exec',
        s.ns,
        findTool('sysctl') ?? 'sysctl',
        '-q',
        '-w',
        ...s.settings.map(([k, v]) => `${k}=${v}`),
      ]),
    ),
  );
}

/** Deletes namespaces; ones already gone are skipped. Never throws. */
export async function unwire(namespaces: readonly string[]): Promise<void> {
  if (namespaces.length === 0) return;
  await runBatch(planUnwiring(namespaces), true).catch(() => {});
}

export function runBatch(b: IpBatch, force = false): Promise<void> {
  const args = [
    ...(b.family === undefined ? [] : [`-${b.family}`]),
    ...(b.ns === undefined ? [] : ['-n', b.ns]),
    ...(force ? ['-force'] : []),
    '-batch',
    '-',
  ];
  return run(IP, args, `${b.lines.join('\n')}\n`);
}

function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 30_000, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
