import { Writable } from 'node:stream';

/** A log destination that keeps every line written to it, for tests that read what the gateway logged. */
export function captureLogLines(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, sink };
}
