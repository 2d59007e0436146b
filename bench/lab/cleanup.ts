import { labDown } from '../../src/lab/lab.ts';
import { listNamespaces } from '../../src/lab/netns.ts';
import { sweepNamespaces } from '../../src/lab/processes.ts';
import { unwire } from '../../src/lab/wiring.ts';

/**
 * A bench's lab, gone whatever state it is in: `lab down`, then any namespace with the prefix it
 * left (a run killed half-way) swept and unwired.
 */
export async function labCleanup(prefix: string, dir: string): Promise<void> {
  try {
    await labDown({ prefix, dir });
  } finally {
    const left = listNamespaces().filter((n) => n.startsWith(prefix));
    await sweepNamespaces(left);
    await unwire(left);
  }
}
