/**
 * What this process may know and do about other processes it started, read from Linux's /proc: a pid alone
 * is not proof (pids are reused), so a process is named by its pid and kernel start time together and is
 * signalled only while both still match. Elsewhere (no /proc) nothing is found and nothing is killed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** A process as recorded earlier: the pid plus its start time (clock ticks since boot), which pid reuse changes. */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

export interface ProcessInfo extends ProcessRef {
  ppid: number;
  pgid: number;
  argv: string[];
}

export function processInfo(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name sits in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // exited, not yet reaped: gone for our purposes
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), startTime: Number(fields[19]), argv };
  } catch {
    return undefined;
  }
}

export function refOf(pid: number): ProcessRef | undefined {
  const info = processInfo(pid);
  return info && { pid: info.pid, startTime: info.startTime };
}

/** True while the very process recorded in `ref` runs (not another one that got its pid since). */
export function isRunning(ref: ProcessRef): boolean {
  return processInfo(ref.pid)?.startTime === ref.startTime;
}

export function allProcesses(): ProcessInfo[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return pids.map((p) => processInfo(Number(p))).filter((p): p is ProcessInfo => p !== undefined);
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Each signal is sent only while
 * the recorded process still runs, so a reused pid is never hit.
 */
export async function terminate(ref: ProcessRef, graceMs = 10_000): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    if (!isRunning(ref)) return;
    try {
      process.kill(ref.pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const killAt = Date.now() + graceMs;
  while (isRunning(ref)) {
    if (Date.now() >= killAt) {
      signal('SIGKILL');
      if (Date.now() >= killAt + 5_000) throw new Error(`process ${ref.pid} survived SIGKILL`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

type LauncherKind = 'npm' | 'tsx' | 'shell';

function launcherKind(argv: string[]): LauncherKind | undefined {
  // npm sets its process title ("npm run gateway …"), which replaces argv with one space-separated string.
  const names = [argv[0]?.split(' ')[0] ?? '', ...argv.slice(1, 3)].map((a) => basename(a));
  if (names[0] === 'npm' || names[0] === 'npx' || argv.slice(0, 3).some((a) => /[\\/](npm|npx)-cli\.js$/.test(a))) return 'npm';
  if (names[0] === 'tsx' || argv.slice(0, 3).some((a) => /[\\/]tsx[\\/]dist[\\/]cli\.m?js$/.test(a) || a.endsWith('/.bin/tsx'))) return 'tsx';
  if (['sh', 'bash', 'dash'].includes(names[0] ?? '') && argv[1] === '-c') return 'shell';
  return undefined;
}

/**
 * The wrappers between the user and this process — `npm start` is npm → sh -c → tsx → node — innermost
 * first. They pass signals on when they exit cleanly, but a SIGKILLed wrapper leaves this process running
 * and holding its ports; watchLaunchers() notices that.
 */
export function launcherChain(from = process.ppid): ProcessRef[] {
  const chain: ProcessRef[] = [];
  for (let pid = from; pid > 1 && chain.length < 6; ) {
    const info = processInfo(pid);
    if (!info || !launcherKind(info.argv)) break;
    chain.push({ pid: info.pid, startTime: info.startTime });
    pid = info.ppid;
  }
  return chain;
}

/** Calls `onGone` once when any process of the chain is gone; returns a function that stops watching. */
export function watchLaunchers(chain: ProcessRef[], onGone: (ref: ProcessRef) => void, everyMs = 250): () => void {
  if (chain.length === 0) return () => {};
  const timer = setInterval(() => {
    const gone = chain.find((ref) => !isRunning(ref));
    if (gone) {
      clearInterval(timer);
      onGone(gone);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
