/** Children that announce themselves with one JSON line holding their `url`: the fake provider, the reference proxy. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError, describeFailure, startChild, type Child } from './children.js';
import { FAKE_ENTRY, ROOT } from './paths.js';

export interface UrlChild {
  child: Child;
  url: string;
}

async function waitForFile(file: string, seconds: number): Promise<void> {
  if (existsSync(file)) return;
  console.log(`waiting up to ${seconds}s for ${path.relative(ROOT, file)} to exist ...`);
  const deadline = Date.now() + seconds * 1000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new BenchError(`${path.relative(ROOT, file)} does not exist (waited ${seconds} s)`);
    await sleep(500);
  }
  await sleep(500); // let the writer finish
}

/** Starts a TypeScript entry point (via tsx) and waits for the `{"url": ...}` line it prints once listening. */
export async function startUrlChild(name: string, args: string[]): Promise<UrlChild> {
  let resolveUrl!: (url: string) => void;
  const urlSeen = new Promise<string>((resolve) => (resolveUrl = resolve));
  const child = startChild(name, ['--import', 'tsx', ...args], {
    onLine: (line) => {
      if (!line.startsWith('{')) return;
      try {
        const msg = JSON.parse(line) as { url?: unknown };
        if (typeof msg.url === 'string') resolveUrl(msg.url.replace(/\/+$/, ''));
      } catch {
        // not the line we are waiting for
      }
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await Promise.race([
      urlSeen,
      child.exited.then((code) => Promise.reject(describeFailure(child, `exited (code ${code}) before printing its url`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(describeFailure(child, 'did not print its url within 30 s')), 30_000);
      }),
    ]);
    return { child, url };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The fake provider on a free port. `waitForEntryS`: how long to wait for test/fake-provider/main.ts to appear
 * first (it may still be being written while the benchmark starts); without it, it must exist.
 */
export async function startFake(waitForEntryS?: number): Promise<UrlChild> {
  if (waitForEntryS !== undefined) await waitForFile(FAKE_ENTRY, waitForEntryS);
  return startUrlChild('fake provider', [FAKE_ENTRY, '--port', '0']);
}
