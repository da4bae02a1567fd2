/**
 * A real Qdrant for the tests, as a process. Where it comes from, first match wins:
 *   QDRANT_URL (a server someone else runs: used as is, never started or stopped here),
 *   QDRANT_BIN, `qdrant` on PATH, a copy downloaded earlier into .tools/qdrant/, and last (with internet)
 *   the official v1.19.0 release tarball, downloaded into .tools/qdrant/.
 * Each start gets free ports and a temporary storage directory unless told otherwise (a restart on the same
 * port and storage is how the tests bring a killed Qdrant back).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/durable/dev-server.js';
import { executable, onPath } from '../../src/tools/executables.js';

export const QDRANT_VERSION = 'v1.19.0';
const RELEASE_URL = `https://github.com/qdrant/qdrant/releases/download/${QDRANT_VERSION}/qdrant-x86_64-unknown-linux-gnu.tar.gz`;
const READY_TIMEOUT_MS = 30_000;
// Qdrant waits for open keep-alive connections before it exits on SIGTERM; its WAL makes a SIGKILL after that safe.
const STOP_TIMEOUT_MS = 3_000;

export interface QdrantServer {
  url: string;
  httpPort: number;
  grpcPort: number;
  dataDir: string;
  /** For tests that freeze it (SIGSTOP / SIGCONT) to play a hung server. */
  pid: number;
  /** SIGTERM, then SIGKILL if it has not exited within 3 s; removes the storage if this launcher made it. */
  stop(): Promise<void>;
  /** SIGKILL, storage kept: a crash, for tests that bring it back with `startQdrant({ ...same ports and dir })`. */
  kill(): Promise<void>;
}

export interface QdrantStartOptions {
  httpPort?: number;
  grpcPort?: number;
  /** Storage lives here and is left in place on stop; without it a temporary directory is made and removed. */
  dataDir?: string;
  /** Where .tools/ is (the repository root). */
  root?: string;
}

/** The binary to run: QDRANT_BIN, PATH, .tools/qdrant/, or the official release downloaded there. */
export async function qdrantBinary(root = process.cwd()): Promise<string> {
  const fromEnv = process.env.QDRANT_BIN;
  if (fromEnv) {
    if (!executable(fromEnv)) throw new Error(`QDRANT_BIN=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const found = onPath('qdrant');
  if (found) return found;
  const dir = resolve(root, '.tools/qdrant');
  const local = join(dir, 'qdrant');
  if (executable(local)) return local;
  await download(dir);
  if (!executable(local)) throw new Error(`the Qdrant release from ${RELEASE_URL} did not contain an executable 'qdrant'`);
  return local;
}

async function download(dir: string): Promise<void> {
  const help = `set QDRANT_BIN to a Qdrant ${QDRANT_VERSION} server binary, or QDRANT_URL to a running Qdrant (e.g. \`docker run -p 6333:6333 qdrant/qdrant:${QDRANT_VERSION}\`)`;
  let body: ArrayBuffer;
  try {
    const res = await fetch(RELEASE_URL, { signal: AbortSignal.timeout(120_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.arrayBuffer();
  } catch (err) {
    throw new Error(`no Qdrant server for the tests: none on PATH or in ${dir}, and downloading ${RELEASE_URL} failed (${(err as Error).message}${(err as Error).cause ? `: ${String((err as Error).cause)}` : ''}); ${help}`);
  }
  mkdirSync(dir, { recursive: true });
  const tarball = join(dir, 'qdrant.tar.gz');
  writeFileSync(tarball, Buffer.from(body));
  const tar = spawnSync('tar', ['-xzf', tarball, '-C', dir], { encoding: 'utf8' });
  rmSync(tarball, { force: true });
  if (tar.status !== 0) throw new Error(`unpacking ${RELEASE_URL} failed: ${tar.stderr}; ${help}`);
}

/** Every server this process started, killed if the process exits without stopping them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The 'exit' hook does not run when this process is killed with SIGKILL: a detached watcher then kills the
 * server within a second, so no Qdrant outlives the test run that started it.
 */
function watchParent(serverPid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -CONT ${serverPid} 2>/dev/null; kill -KILL ${serverPid} 2>/dev/null`;
  const watcher = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watcher.unref();
  return watcher;
}

export async function startQdrant(opts: QdrantStartOptions = {}): Promise<QdrantServer> {
  const bin = await qdrantBinary(opts.root);
  const httpPort = opts.httpPort ?? (await freePort());
  let grpcPort = opts.grpcPort ?? (await freePort());
  while (grpcPort === httpPort) grpcPort = await freePort();
  const ownsDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'qdrant-test-'));
  const child = spawn(bin, [], {
    // Qdrant may write ./snapshots and ./.qdrant-initialized into its working directory.
    cwd: dataDir,
    env: {
      ...process.env,
      QDRANT__STORAGE__STORAGE_PATH: join(dataDir, 'storage'),
      QDRANT__STORAGE__SNAPSHOTS_PATH: join(dataDir, 'snapshots'),
      QDRANT__SERVICE__HOST: '127.0.0.1',
      QDRANT__SERVICE__HTTP_PORT: String(httpPort),
      QDRANT__SERVICE__GRPC_PORT: String(grpcPort),
      QDRANT__TELEMETRY_DISABLED: 'true',
      QDRANT__LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const watcher = child.pid ? watchParent(child.pid) : undefined;
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  let gone = false;
  void exited.then(() => {
    gone = true;
    running.delete(child);
    watcher?.kill('SIGKILL');
  });
  child.once('error', (err) => {
    output += `\n${err.message}`;
  });

  const url = `http://127.0.0.1:${httpPort}`;
  const signalAndWait = async (signal: NodeJS.Signals, ms: number): Promise<boolean> => {
    if (gone) return true;
    // A frozen server (SIGSTOP) would never act on SIGTERM.
    child.kill('SIGCONT');
    child.kill(signal);
    return Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  };
  const server: QdrantServer = {
    url,
    httpPort,
    grpcPort,
    dataDir,
    pid: child.pid ?? -1,
    async stop() {
      if (!(await signalAndWait('SIGTERM', STOP_TIMEOUT_MS))) await signalAndWait('SIGKILL', STOP_TIMEOUT_MS);
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
    async kill() {
      await signalAndWait('SIGKILL', STOP_TIMEOUT_MS);
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (true) {
    if (gone) {
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`Qdrant (${bin}) exited before it was ready, exit code ${child.exitCode}:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`Qdrant (${bin}) was not ready on ${url} within ${READY_TIMEOUT_MS / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** QDRANT_URL when set (nothing to stop), else a server started here. */
export async function qdrantForTests(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = process.env.QDRANT_URL;
  if (given) return { url: given.replace(/\/$/, ''), stop: async () => {} };
  return startQdrant();
}
