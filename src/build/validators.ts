import { findTool, runTool, type ToolResult } from './run-tool.ts';

/** How one kind of generated file is checked with its real tool. */
export interface Validator {
  /** Which generated files (node-relative paths) it checks. */
  matches(path: string): boolean;
  tool: string;
  /** Checks the file at an absolute path inside the scratch node folder. */
  validate(absPath: string, nodeDir: string): Promise<ToolResult>;
}

const validators: Validator[] = [
  {
    matches: (p) => /^haproxy\/[^/]+\.cfg$/.test(p),
    tool: 'haproxy',
    validate: (file) => runTool(findTool('haproxy')!, ['-c', '-q', '-f', file]),
  },
];

export function registerValidator(v: Validator): void {
  validators.push(v);
}

export function validatorsFor(path: string): Validator[] {
  return validators.filter((v) => v.matches(path));
}
