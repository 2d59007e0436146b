// `intentlb lab up` and `lab down` of a site (default examples/campus), timed as an operator sees
// them: the CLI as a process, wall clock. Targets: up < 10 s, down < 3 s.
//
//   node --import tsx bench/lab/updown.ts [--site DIR] [--runs N] [--static-vips] [--no-deploy]
//
// Needs root. Uses its own namespace prefix (ilbb-) and removes everything it made, also on failure.
import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultLabDir } from '../../src/lab/state.ts';
import { labCleanup } from './cleanup.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PREFIX = 'ilbb-';
const DIR = defaultLabDir(PREFIX);

const { values } = parseArgs({
  options: {
    site: { type: 'string', default: `${ROOT}examples/campus` },
    runs: { type: 'string', default: '3' },
    'static-vips': { type: 'boolean', default: false },
    'no-deploy': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const flags = [
  ...(values['static-vips'] ? ['--static-vips'] : []),
  ...(values['no-deploy'] ? ['--no-deploy'] : []),
];

function intentlb(args: string[]): Promise<{ ms: number; code: number; out: string }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}bin/intentlb.mjs`, ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve({ ms, code: err === null ? 0 : Number(err.code ?? 1), out: `${stdout}${stderr}` });
      },
    );
  });
}

const cleanup = (): Promise<void> => labCleanup(PREFIX, DIR);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const ups: number[] = [];
const downs: number[] = [];
/** What the command itself reports ("up in 6.7 s"): the wall clock without Node/tsx start-up and site compile. */
const upsInside: number[] = [];
const downsInside: number[] = [];
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const reported = (out: string, verb: string): number =>
  Number(new RegExp(`${verb} in ([0-9.]+) s`).exec(out)?.[1] ?? NaN) * 1000;
try {
  await cleanup();
  for (let i = 0; i < runs; i++) {
    const up = await intentlb(['lab', 'up', values.site!, '--prefix', PREFIX, ...flags]);
    if (up.code !== 0) throw new Error(`lab up failed (exit ${up.code}):\n${up.out}`);
    const phases = up.out
      .split('\n')
      .filter((l) => l.startsWith('lab: ['))
      .join(' | ');
    const down = await intentlb(['lab', 'down', '--prefix', PREFIX]);
    if (down.code !== 0) throw new Error(`lab down failed (exit ${down.code}):\n${down.out}`);
    ups.push(up.ms);
    downs.push(down.ms);
    upsInside.push(reported(up.out, 'up'));
    downsInside.push(reported(down.out, 'down'));
    console.log(
      `run ${i + 1}: up ${secs(up.ms)} (inside ${secs(upsInside[i]!)}), down ${secs(down.ms)} (inside ${secs(downsInside[i]!)})   ${phases}`,
    );
  }
  console.log(
    `\n${values.site} ${flags.join(' ') || '(BGP, deployed)'} — ${runs} runs, ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const line = (what: string, xs: number[], inside: number[], target: string): string =>
    `${what} median ${secs(median(xs))} (min ${secs(Math.min(...xs))}, max ${secs(Math.max(...xs))}; ` +
    `inside the command ${secs(median(inside))})  target ${target}`;
  console.log(line('lab up:  ', ups, upsInside, '< 10 s'));
  console.log(line('lab down:', downs, downsInside, '< 3 s'));
} finally {
  await cleanup();
}
