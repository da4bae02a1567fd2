/**
 * Reads a batch input file once, streaming: checks every line and records the byte range of each request line,
 * so later steps read any slice of lines with one positioned read instead of scanning the file again.
 * Blank lines are skipped (they are not requests) but still counted for the line numbers in error reports.
 */
import { createReadStream } from 'node:fs';
import { checkLine, type LineCheckContext } from './check-line.js';
import { MAX_REPORTED_ERRORS, type BatchLineError } from './types.js';

export interface ScanOptions extends Omit<LineCheckContext, 'seen'> {
  maxLines: number;
  /** Called after every block read: a long scan proves it is alive (activity heartbeats). */
  onProgress?: () => void;
}

export interface ScanResult {
  /** [start, end) byte offsets of each request line. */
  ranges: Float64Array;
  total: number;
  errors: BatchLineError[];
  /** Every problem, including those beyond the reported ones. */
  errorCount: number;
  aliases: string[];
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const NEWLINE = 0x0a;
const CR = 0x0d;

/** A growable array of offset pairs. */
class Ranges {
  private data = new Float64Array(2048);
  private length = 0;
  push(start: number, end: number): void {
    if (this.length + 2 > this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = start;
    this.data[this.length++] = end;
  }
  get count(): number {
    return this.length / 2;
  }
  done(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

export async function scanInputFile(path: string, opts: ScanOptions): Promise<ScanResult> {
  const ctx: LineCheckContext = { ...opts, seen: new Set() };
  const ranges = new Ranges();
  const errors: BatchLineError[] = [];
  const aliases = new Set<string>();
  let errorCount = 0;
  let lineNo = 0;
  let tooMany = false;

  const report = (error: BatchLineError) => {
    errorCount++;
    if (errors.length < MAX_REPORTED_ERRORS) errors.push(error);
  };
  const onLine = (bytes: Buffer, start: number) => {
    lineNo++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CR) end--;
    let text: string;
    try {
      text = UTF8.decode(bytes.subarray(0, end));
    } catch {
      report({ code: 'invalid_json_line', message: `Line ${lineNo} is not valid UTF-8.`, param: null, line: lineNo });
      return;
    }
    if (text.trim() === '') return;
    if (ranges.count >= opts.maxLines) {
      if (!tooMany) report({ code: 'too_many_lines', message: `A batch may hold at most ${opts.maxLines} requests.`, param: null, line: lineNo });
      tooMany = true;
      return;
    }
    const checked = checkLine(text, lineNo, ctx);
    if (!checked.ok) return report(checked.error);
    aliases.add(checked.request.model);
    ranges.push(start, start + end);
  };

  let offset = 0;
  let carry: Buffer | undefined;
  let carryStart = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      const piece = chunk.subarray(from, nl);
      if (carry) {
        onLine(Buffer.concat([carry, piece]), carryStart);
        carry = undefined;
      } else onLine(piece, offset + from);
      from = nl + 1;
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from);
      if (carry) carry = Buffer.concat([carry, rest]);
      else {
        carry = Buffer.from(rest);
        carryStart = offset + from;
      }
    }
    offset += chunk.length;
    opts.onProgress?.();
  }
  if (carry) onLine(carry, carryStart);

  if (ranges.count === 0 && errorCount === 0) report({ code: 'empty_file', message: 'The input file holds no requests.', param: null, line: null });
  return { ranges: ranges.done(), total: ranges.count, errors, errorCount, aliases: [...aliases].sort() };
}
