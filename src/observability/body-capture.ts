/**
 * `logging.bodies: true`: keeps a copy of what the gateway answered, so the request's log record can carry
 * the prompt and the answer. Only ever installed when that option is on: otherwise no response is touched.
 * The copy is bounded; a stream is folded to its text (OpenAI and Anthropic event shapes).
 */
import type { Response } from 'express';

const MAX_BYTES = 64 * 1024;

export interface CapturedBodies {
  /** The answer as logged: parsed JSON, a stream's text, or the raw text when neither parses. */
  answer(): unknown;
}

const captured = new WeakMap<Response, CapturedBodies>();

export function captureBodies(res: Response): void {
  const parts: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const keep = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    if (size >= MAX_BYTES) {
      truncated = true;
      return;
    }
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    parts.push(buf.subarray(0, MAX_BYTES - size));
    size += buf.length;
    if (size > MAX_BYTES) truncated = true;
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.write = ((...args: unknown[]) => {
    keep(args[0], args[1]);
    return write(...args);
  }) as Response['write'];
  res.end = ((...args: unknown[]) => {
    keep(args[0], args[1]);
    return end(...args);
  }) as Response['end'];
  captured.set(res, {
    answer() {
      const text = Buffer.concat(parts).toString('utf8');
      const type = String(res.getHeader('content-type') ?? '');
      if (type.startsWith('text/event-stream')) return { text: streamText(text), truncated: truncated || undefined };
      if (!truncated && type.includes('json')) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          // fall through to the raw text
        }
      }
      return { raw: text, truncated: truncated || undefined };
    },
  });
}

export function capturedBodies(res: Response): CapturedBodies | undefined {
  return captured.get(res);
}

/** The text a stream carried: OpenAI `choices[].delta.content` or Anthropic `delta.text` events, in order. */
export function streamText(sse: string): string {
  let out = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (!data.startsWith('{')) continue;
    try {
      const event = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string | null } }>; delta?: { text?: string } };
      out += event.choices?.[0]?.delta?.content ?? event.delta?.text ?? '';
    } catch {
      // a partial event cut by the size bound
    }
  }
  return out;
}
