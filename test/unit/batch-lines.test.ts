/**
 * The Batch API's pieces without Temporal: line checks, the input scan and its line index, reading slices back
 * from the store, idempotent per-line results, output lines in OpenAI's format, chunk layout, paging.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLine, type LineCheckContext } from '../../src/batches/check-line.js';
import { chunkLayout } from '../../src/batches/chunking.js';
import { isBatchId, isFileId, lineRequestId, newBatchId, newFileId, resultFileId } from '../../src/batches/ids.js';
import { answeredLine, notRunLine } from '../../src/batches/output.js';
import { scanInputFile } from '../../src/batches/scan.js';
import { pageOf } from '../../src/batches/views.js';
import { FileStore } from '../../src/batches/store.js';
import { batchesSchema } from '../../src/config/batches-schema.js';

const ctx = (over: Partial<LineCheckContext> = {}): LineCheckContext => ({
  endpoint: '/v1/chat/completions',
  knownModels: new Set(['chat', 'small']),
  seen: new Set(),
  ...over,
});
const good = (id: string, model = 'chat') => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hi' }] } });

describe('checkLine', () => {
  it('accepts a well-formed line and remembers its custom_id', () => {
    const c = ctx();
    const r = checkLine(good('a'), 1, c);
    expect(r).toMatchObject({ ok: true, customId: 'a', request: { model: 'chat' } });
    expect(checkLine(good('a'), 2, c)).toEqual({
      ok: false,
      error: { code: 'duplicate_custom_id', line: 2, param: 'custom_id', message: "The custom_id 'a' is used more than once; each line needs its own." },
    });
  });

  it.each([
    ['[1,2]', 'invalid_json_line', null],
    ['{"custom_id": 5, "method": "POST"}', 'invalid_value', 'custom_id'],
    ['{"custom_id": "", "method": "POST"}', 'invalid_value', 'custom_id'],
    ['{"custom_id": "x", "method": "POST", "url": "/v1/chat/completions"}', 'missing_required_parameter', 'body'],
    ['{"custom_id": "x", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "chat", "messages": []}}', 'invalid_request', 'body.messages'],
    ['{"custom_id": "x", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "chat", "stream": true, "messages": [{"role": "user", "content": "x"}]}}', 'invalid_value', 'body.stream'],
  ])('reports %s as %s', (text, code, param) => {
    expect(checkLine(text, 4, ctx())).toMatchObject({ ok: false, error: { code, param, line: 4 } });
  });

  it('checks the key may use the model only for models that exist', () => {
    const c = ctx({ allowedModels: new Set(['small']) });
    expect(checkLine(good('a', 'chat'), 1, c)).toMatchObject({ ok: false, error: { code: 'model_not_allowed' } });
    expect(checkLine(good('b', 'nope'), 2, c)).toMatchObject({ ok: false, error: { code: 'model_not_found' } });
    expect(checkLine(good('c', 'small'), 3, c).ok).toBe(true);
  });
});

describe('scanning an input file and reading its lines back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'batch-unit-'));
  const store = new FileStore(dir);

  async function storeInput(text: string): Promise<string> {
    const tmp = await store.tempPath('t1');
    writeFileSync(tmp, text);
    const id = newFileId();
    await store.commitFile(tmp, { id, object: 'file', bytes: Buffer.byteLength(text), created_at: 1, filename: 'in.jsonl', purpose: 'batch', status: 'processed', expires_at: null, status_details: null, tenant: 't1' });
    return id;
  }

  it('indexes request lines across blank lines, CRLF and 1 MB read blocks with multi-byte text on the boundary', async () => {
    // A line long enough that the 1 MB read block ends in the middle of its multi-byte characters.
    const long = JSON.stringify({ custom_id: 'long', method: 'POST', url: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: 'é😀'.repeat(200_000) }] } });
    const lines = [good('a'), '', long, '   ', good('b', 'small')];
    const fileId = await storeInput(lines.join('\r\n') + '\r\n');
    const scan = await scanInputFile(store.contentPath('t1', fileId), { endpoint: '/v1/chat/completions', knownModels: new Set(['chat', 'small']), maxLines: 10 });
    expect(scan.errors).toEqual([]);
    expect(scan.total).toBe(3);
    expect(scan.aliases).toEqual(['chat', 'small']);

    const batchId = newBatchId();
    await store.putIndex('t1', batchId, scan.ranges);
    expect(await store.readLines('t1', batchId, fileId, 0, 3)).toEqual([good('a'), long, good('b', 'small')]);
    expect(await store.readLines('t1', batchId, fileId, 1, 2)).toEqual([long]);
    expect(await store.readLines('t1', batchId, fileId, 2, 3)).toEqual([good('b', 'small')]);
  });

  it('reports line numbers of the file (blank lines counted), an empty file, and too many lines', async () => {
    const bad = await storeInput([good('a'), '', '{oops', good('a')].join('\n'));
    const scan = await scanInputFile(store.contentPath('t1', bad), { endpoint: '/v1/chat/completions', knownModels: new Set(['chat']), maxLines: 10 });
    expect(scan.errors.map((e) => [e.line, e.code])).toEqual([
      [3, 'invalid_json_line'],
      [4, 'duplicate_custom_id'],
    ]);
    const empty = await storeInput('\n\n');
    const none = await scanInputFile(store.contentPath('t1', empty), { endpoint: '/v1/chat/completions', knownModels: new Set(['chat']), maxLines: 10 });
    expect(none.errors.map((e) => e.code)).toEqual(['empty_file']);
    const many = await storeInput([good('a'), good('b'), good('c')].join('\n'));
    const tooMany = await scanInputFile(store.contentPath('t1', many), { endpoint: '/v1/chat/completions', knownModels: new Set(['chat']), maxLines: 2 });
    expect(tooMany.errors.map((e) => [e.line, e.code])).toEqual([[3, 'too_many_lines']]);
  });

  it('stores one result per line index however often it is written, and keeps tenants apart', async () => {
    const batchId = newBatchId();
    await store.putResult('t1', batchId, 7, { custom_id: 'x', status_code: 500, body: { first: true } });
    await store.putResult('t1', batchId, 7, { custom_id: 'x', status_code: 200, body: { second: true } });
    expect(await store.getResult('t1', batchId, 7)).toEqual({ custom_id: 'x', status_code: 200, body: { second: true } });
    expect(await store.getResult('t2', batchId, 7)).toBeUndefined();
    const fileId = await storeInput(good('z'));
    expect(await store.getFile('t1', fileId)).toMatchObject({ id: fileId });
    expect(await store.getFile('t2', fileId)).toBeUndefined();
    expect(await store.getFile('t1', '../t2/files/x')).toBeUndefined();
  });
});

describe('ids, output lines, layout and paging', () => {
  it('makes time-ordered ids and stable derived ones', () => {
    const a = newBatchId();
    expect(isBatchId(a) && isFileId(newFileId())).toBe(true);
    expect(isFileId('file-../../etc')).toBe(false);
    expect(resultFileId(a, 'output')).toBe(resultFileId(a, 'output'));
    expect(resultFileId(a, 'output')).not.toBe(resultFileId(a, 'error'));
    expect(lineRequestId(a, 1)).not.toBe(lineRequestId(a, 2));
  });

  it("writes OpenAI's output and error line shapes", () => {
    expect(JSON.parse(answeredLine('batch_x', 3, { custom_id: 'c', status_code: 200, body: { object: 'chat.completion' } }))).toEqual({
      id: lineRequestId('batch_x', 3),
      custom_id: 'c',
      response: { status_code: 200, request_id: 'batch_x-3', body: { object: 'chat.completion' } },
      error: null,
    });
    expect(JSON.parse(notRunLine('batch_x', 4, 'd', 'expired'))).toMatchObject({ custom_id: 'd', response: null, error: { code: 'batch_expired' } });
  });

  it('splits the concurrency over at least two chunks and never exceeds it', () => {
    expect(chunkLayout(32, 50)).toEqual({ parallel: 2, perChunk: 16 });
    expect(chunkLayout(8, 4)).toEqual({ parallel: 2, perChunk: 4 });
    expect(chunkLayout(64, 10)).toEqual({ parallel: 7, perChunk: 9 });
    expect(chunkLayout(1, 50)).toEqual({ parallel: 1, perChunk: 1 });
    for (const [max, size] of [[3, 1], [5, 2], [100, 7], [2, 100]] as const) {
      const l = chunkLayout(max, size);
      expect(l.parallel * l.perChunk).toBeLessThanOrEqual(max);
      expect(l.perChunk).toBeLessThanOrEqual(size);
    }
  });

  it('pages after a cursor and ends on an unknown one', () => {
    const items = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
    expect(pageOf(items, undefined, 3)).toEqual({ data: items.slice(0, 3), has_more: true });
    expect(pageOf(items, 'c', 3)).toEqual({ data: [{ id: 'd' }], has_more: false });
    expect(pageOf(items, 'zz', 3)).toEqual({ data: [], has_more: false });
  });

  it('has defaults for every batches setting and rejects bad sizes', () => {
    expect(batchesSchema.parse({})).toMatchObject({ dir: 'files', maxFileSize: '200mb', maxConcurrentLines: 32, linesPerChunk: 50 });
    expect(batchesSchema.safeParse({ maxFileSize: 'lots' }).success).toBe(false);
    expect(batchesSchema.safeParse({ maxConcurrentLines: 0 }).success).toBe(false);
  });
});
