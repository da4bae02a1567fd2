/** Small node:http helpers, kept allocation-light because the fake is a benchmark baseline. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Set once the response is closed (finished or client gone). A plain object rather than an
 * AbortController: aborting one allocates a DOMException per request, measurable at benchmark rates.
 */
export class Gone {
  aborted = false;
  private listeners: Array<() => void> = [];
  on(fn: () => void): void {
    if (this.aborted) fn();
    else this.listeners.push(fn);
  }
  off(fn: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== fn);
  }
  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    const ls = this.listeners;
    this.listeners = [];
    ls.forEach((l) => l());
  }
}

/** Resolves early (never rejects) when the client goes away, so no timer outlives its request. */
export function sleep(ms: number, signal: Gone): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.off(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.on(done);
  });
}

export function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
    req.on('aborted', () => resolve(undefined));
  });
}

export function writeAsync(res: ServerResponse, data: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    res.write(data, () => resolve());
  });
}
