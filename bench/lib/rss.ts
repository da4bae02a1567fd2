/**
 * Resident memory of a process and everything it started (LiteLLM's workers are child processes), read from
 * /proc, sampled while a target is under load. Linux only; elsewhere the samples are empty and the table says so.
 */
import { readdirSync, readFileSync } from 'node:fs';

function parentOf(pid: number): number | undefined {
  try {
    // The command name in field 2 may hold spaces and parentheses: fields after the last ')' are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** `root` and its descendants, found by walking every process's parent once. */
export function processTree(root: number): number[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return [root];
  }
  const kids = new Map<number, number[]>();
  for (const pid of pids) {
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = kids.get(ppid);
    if (list) list.push(pid);
    else kids.set(ppid, [pid]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(kids.get(pid) ?? []));
  }
  return out;
}

function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited between listing and reading
  }
}

export function treeRssBytes(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + rssBytes(pid), 0);
}

/**
 * Samples the tree's RSS every `everyMs` until stopped; returns the samples in MB. The tree is listed once at the
 * start (a target does not start processes under load), so a sample costs the load generator a few reads only.
 */
export function sampleRss(root: number, everyMs = 250): { stop: () => number[] } {
  const tree = processTree(root);
  const samples: number[] = [];
  const take = () => {
    const bytes = tree.reduce((sum, pid) => sum + rssBytes(pid), 0);
    if (bytes > 0) samples.push(Math.round(bytes / 1e5) / 10);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}
