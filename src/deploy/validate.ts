import { availableParallelism } from 'node:os';
import { findTool, pool } from '../build/run-tool.ts';
import { allValidators, type Validator } from '../build/validators.ts';

export interface DirRejection {
  path: string;
  tool: string;
  output: string;
}

/**
 * Checks a rendered tree in place with every real tool that is installed (the same validators as
 * `build`). Returns the rejections and the tools that were missing.
 */
export async function validateDir(
  dir: string,
  paths: readonly string[],
): Promise<{ rejections: DirRejection[]; skipped: string[] }> {
  const concurrency = availableParallelism();
  const skipped = new Set<string>();
  const jobs: { unit: string[]; v: Validator }[] = [];
  for (const v of allValidators()) {
    const units = v.units([...paths]);
    if (units.length === 0) continue;
    if (findTool(v.tool) === undefined) {
      skipped.add(v.tool);
      continue;
    }
    for (const unit of units) jobs.push({ unit, v });
  }
  const results = await pool(jobs, concurrency, async (j) => ({
    j,
    r: await j.v.validate(j.unit, dir, concurrency),
  }));
  const rejections = results.flatMap(({ j, r }) =>
    r.map((x) => ({ path: x.path, tool: j.v.tool, output: x.output })),
  );
  return { rejections, skipped: [...skipped].sort() };
}
