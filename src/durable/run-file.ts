/**
 * The run file of an embedded dev server (beside its data): who owns it and which processes run it. A start
 * after a crash reads it to clean up what the previous run left: a dev server still holding our ports or db
 * file, or an orphaned gateway (its `npm start` killed) still holding the HTTP port. Every pid is checked
 * against its recorded start time and command line before it is signalled, so a reused pid is never hit.
 * A gateway whose launchers all still run is not an orphan but a second start on the same data: that fails
 * with a message instead of killing a healthy process.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { allProcesses, isRunning, launcherChain, processInfo, terminate, type ProcessRef } from './own-processes.js';

export interface RecordedProcess extends ProcessRef {
  argv: string[];
}

export interface RunRecord {
  owner: RecordedProcess & { launchers: ProcessRef[] };
  devServer?: { address: string; dbFile?: string; watchdog?: RecordedProcess; server?: RecordedProcess };
}

export interface RunFileLog {
  warn(obj: object, msg: string): void;
}

/** How long an orphaned gateway gets to shut down (its worker, then its dev server) before SIGKILL. */
const ORPHAN_GRACE_MS = 20_000;

function recorded(pid: number): RecordedProcess | undefined {
  const info = processInfo(pid);
  return info && { pid: info.pid, startTime: info.startTime, argv: info.argv };
}

/** The recorded process itself, still running: same pid, start time and command line. */
function stillRuns(rec: RecordedProcess | undefined): rec is RecordedProcess {
  if (!rec || rec.pid === process.pid) return false;
  const now = processInfo(rec.pid);
  return now !== undefined && now.startTime === rec.startTime && JSON.stringify(now.argv) === JSON.stringify(rec.argv);
}

/** Dev servers on this db file: ours by definition, since two servers on one SQLite file cannot both be right. */
function devServersOn(dbFile: string): RecordedProcess[] {
  return allProcesses()
    .filter((p) => p.pid !== process.pid && p.argv.includes('start-dev') && p.argv[p.argv.indexOf('--db-filename') + 1] === dbFile)
    .map((p) => ({ pid: p.pid, startTime: p.startTime, argv: p.argv }));
}

export class RunFile {
  private record: RunRecord;

  private constructor(
    readonly path: string,
    owner: RunRecord['owner'],
  ) {
    this.record = { owner };
  }

  /**
   * Cleans up after a previous run recorded in `path` (and any dev server on `dbFile`), then records this
   * process as the owner. Throws when a live, non-orphaned gateway owns it.
   */
  static async claim(path: string, opts: { dbFile?: string; log?: RunFileLog } = {}): Promise<RunFile> {
    const previous = readRecord(path);
    if (previous && stillRuns(previous.owner)) {
      const gone = previous.owner.launchers.find((l) => !isRunning(l));
      if (!gone) {
        throw new Error(
          `another gateway (pid ${previous.owner.pid}) runs the embedded Temporal dev server recorded in ${path}: stop it first, or give this one another data dir`,
        );
      }
      opts.log?.warn({ pid: previous.owner.pid, launcher: gone.pid }, 'a gateway left over by a crashed start (its launcher is gone) is stopped');
      await terminate(previous.owner, ORPHAN_GRACE_MS);
    }
    const leftovers = [previous?.devServer?.server, previous?.devServer?.watchdog, ...(opts.dbFile ? devServersOn(opts.dbFile) : [])].filter(stillRuns);
    for (const rec of new Map(leftovers.map((r) => [r.pid, r])).values()) {
      opts.log?.warn({ pid: rec.pid, cmd: rec.argv.slice(0, 3).join(' ') }, 'a Temporal dev server left over by a previous run is stopped');
      await terminate(rec);
    }
    const self = recorded(process.pid) ?? { pid: process.pid, startTime: 0, argv: [] };
    const file = new RunFile(path, { ...self, launchers: launcherChain() });
    file.write();
    return file;
  }

  recordDevServer(devServer: { address: string; dbFile?: string; watchdogPid?: number; serverPid?: number }): void {
    this.record.devServer = {
      address: devServer.address,
      dbFile: devServer.dbFile,
      watchdog: devServer.watchdogPid === undefined ? undefined : recorded(devServer.watchdogPid),
      server: devServer.serverPid === undefined ? undefined : recorded(devServer.serverPid),
    };
    this.write();
  }

  /** Removes the file after a clean stop, unless another process has claimed it since. */
  release(): void {
    if (readRecord(this.path)?.owner.pid === this.record.owner.pid) rmSync(this.path, { force: true });
  }

  private write(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.record, null, 2));
    renameSync(tmp, this.path);
  }
}

export function readRecord(path: string): RunRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
    return rec && typeof rec.owner?.pid === 'number' ? rec : undefined;
  } catch {
    return undefined;
  }
}
