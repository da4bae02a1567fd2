/** A raw SSE reader for stream tests: events with their id and name, as a browser's EventSource would see them. */
import { readSse, type SseEvent } from '../../src/protocol/sse.js';

export interface StreamHandle {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Resolves when the stream ended (or the connection died). */
  done: Promise<void>;
  abort(): void;
}

export async function openStream(url: string, init: RequestInit): Promise<StreamHandle> {
  const ac = new AbortController();
  const res = await fetch(url, { ...init, signal: ac.signal });
  const events: SseEvent[] = [];
  const done = (async () => {
    if (!res.body || !(res.headers.get('content-type') ?? '').includes('event-stream')) return;
    try {
      for await (const e of readSse(res.body as unknown as AsyncIterable<Uint8Array>)) events.push(e);
    } catch {
      // the connection died (a killed gateway, or our own abort): what arrived is in `events`
    }
  })();
  return { status: res.status, headers: res.headers, events, done, abort: () => ac.abort() };
}

/** The text an OpenAI-dialect stream carried, from its chunks. */
export function openAIText(events: SseEvent[]): string {
  let out = '';
  for (const e of events) {
    if (e.data === '[DONE]' || e.event) continue;
    const c = JSON.parse(e.data) as { choices?: Array<{ delta?: { content?: string | null } }> };
    out += c.choices?.[0]?.delta?.content ?? '';
  }
  return out;
}
