/** A Reply for work with no client connection (batch lines): the answer is kept, not sent. */
import type { Reply } from './reply.js';

export interface CollectedReply extends Reply {
  status?: number;
  body?: unknown;
  headers: Record<string, string>;
  /** Ends the exchange: runs what waited for it (settlement). */
  finish(): void;
}

export function collectedReply(): CollectedReply {
  const done: Array<() => void> = [];
  let over = false;
  const r: CollectedReply = {
    headers: {},
    committed: false,
    gone: false,
    header(name, value) {
      if (!r.committed) r.headers[name.toLowerCase()] = value;
    },
    json(body, status = 200) {
      Object.assign(r, { committed: true, body, status });
    },
    openStream() {
      throw new Error('a collected reply takes whole answers only');
    },
    write: async () => undefined,
    end: () => undefined,
    onDone(fn) {
      if (over) fn();
      else done.push(fn);
    },
    finish() {
      if (over) return;
      over = true;
      for (const fn of done.splice(0)) fn();
    },
  };
  return r;
}
