/**
 * The `npm run batch` commands end to end against a running gateway (in-process, real Temporal dev server,
 * fake provider): submit --watch, status, results --out, cancel, and the local model check.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { parseCli, runCli } from '../../src/batches/cli.js';
import { startDurableHarness, type DurableHarness } from '../support/durable-harness.js';

const KEY = 'key-cli-full';
const LIMITED = 'key-cli-limited';
const dir = mkdtempSync(join(tmpdir(), 'gateway-batch-cli-'));
let h: DurableHarness;

beforeAll(async () => {
  h = await startDurableHarness(`
auth:
  keys:
    - { id: full, tenant: cli, hash: "${hashKey(KEY)}" }
    - { id: limited, tenant: cli-limited, hash: "${hashKey(LIMITED)}", models: [small] }
batches: { dir: "${join(dir, 'store')}", linesPerChunk: 2, maxConcurrentLines: 2 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-cli }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  oa-small: { provider: oa, model: gpt-small }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
  small: { groups: [{ deployments: [oa-small] }] }
`);
});
afterAll(async () => {
  await h?.close();
});

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(key: string, ...argv: string[]) {
  const out = new Collect();
  const err = new Collect();
  const code = await runCli(parseCli([...argv, '--interval', '50'], { GATEWAY_BASE_URL: `${h.gateway.url}/v1`, GATEWAY_API_KEY: key }), { out, err, isTTY: false });
  return { code, out: out.text, err: err.text };
}

function inputFile(name: string, n: number, model = 'chat'): string {
  const path = join(dir, name);
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `cli-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `cli ${i}` }] } }),
  );
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('npm run batch', () => {
  it('submits and watches a batch to the end, then saves its results', async () => {
    const submitted = await cli(KEY, 'submit', inputFile('five.jsonl', 5), '--watch', '--model-check', '--metadata', 'from=cli');
    expect(submitted.err).toBe('');
    expect(submitted.code).toBe(0);
    const id = submitted.out.split('\n')[0]!;
    expect(id).toMatch(/^batch_/);
    // Non-TTY output: one progress line per change, ending at 100 %.
    expect(submitted.out).toContain('[########################] 100%  5/5 done · 0 failed · completed');
    expect(submitted.out).toMatch(/output file: file-/);

    const status = await cli(KEY, 'status', id, '--json');
    expect(JSON.parse(status.out)).toMatchObject({ id, status: 'completed', metadata: { from: 'cli' }, request_counts: { total: 5, completed: 5, failed: 0 } });

    const out = join(dir, 'five.out.jsonl');
    const results = await cli(KEY, 'results', id, '--out', out);
    expect(results.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.custom_id)).toEqual(['cli-0', 'cli-1', 'cli-2', 'cli-3', 'cli-4']);
    expect(lines[4].response.body.choices[0].message.content).toBe('Echo: cli 4');

    const listed = await cli(KEY, 'list');
    expect(listed.out).toContain(id);
  });

  it('stops before uploading when the key may not use a model the file names', async () => {
    const before = h.fake.requests.length;
    const checked = await cli(LIMITED, 'submit', inputFile('mixed.jsonl', 3, 'chat'), '--model-check');
    expect(checked.code).toBe(1);
    expect(checked.err).toContain("model 'chat' (lines 1, 2, 3) is not available to this key");
    expect(checked.out).toBe('');
    const files = await fetch(`${h.gateway.url}/v1/files`, { headers: { authorization: `Bearer ${LIMITED}` } });
    expect(((await files.json()) as { data: unknown[] }).data).toEqual([]);
    expect(h.fake.requests.length).toBe(before);
  });

  it('cancels a running batch; results are refused until it ends', async () => {
    h.fake.scriptFor('gpt-main', { kind: 'hold' }, { kind: 'hold' });
    const submitted = await cli(KEY, 'submit', inputFile('held.jsonl', 6));
    expect(submitted.code).toBe(0);
    const id = submitted.out.trim();
    for (let i = 0; i < 300 && h.fake.held < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(h.fake.held).toBe(2);

    const early = await cli(KEY, 'results', id);
    expect(early.code).toBe(1);
    expect(early.err).toContain('is in_progress');

    const cancelled = await cli(KEY, 'cancel', id);
    expect(cancelled).toMatchObject({ code: 0, out: `${id}  cancelling\n` });
    const watched = await cli(KEY, 'status', id, '--watch');
    expect(watched.out).toContain('cancelled');
    const results = await cli(KEY, 'results', id, '--errors', join(dir, 'held.errors.jsonl'));
    expect(results.code).toBe(1);
    expect(results.err).toContain('has no output file');
    const errors = readFileSync(join(dir, 'held.errors.jsonl'), 'utf8').trim().split('\n');
    expect(errors).toHaveLength(6);

    const missing = await cli(KEY, 'status', 'batch_000000000000000000000000');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('404');
  });
});
