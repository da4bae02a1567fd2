/**
 * scripts/fetch-model.ts without the network: the files it asks the Hub for, and a download served from the
 * shared model's own files lands as a directory the local embedder loads (and an interrupted one leaves nothing).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchModel, modelFiles } from '../../scripts/fetch-model.js';
import { dot } from '../../src/embeddings/index.js';
import { LocalEmbedder } from '../../src/embeddings/local.js';
import { modelDirForTests } from '../support/model-dir.js';

describe('fetch-model', () => {
  it('asks the Hub for the tokenizer, configs and both graphs, at the given revision', () => {
    const files = modelFiles('abc123');
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json', 'config.json', 'sentence_bert_config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx']));
    expect(files.find((f) => f.path === 'onnx/model.onnx')!.url).toBe('https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/abc123/onnx/model.onnx');
    expect(files.find((f) => f.path === 'onnx/model_quantized.onnx')!.url).toBe('https://huggingface.co/Xenova/all-MiniLM-L6-v2/resolve/abc123/onnx/model_quantized.onnx');
    expect(modelFiles()[0]!.url).toContain('/resolve/main/');
  });

  it('writes a directory the embedder loads; a failed download leaves none', async () => {
    const shared = modelDirForTests();
    const served: string[] = [];
    const fromShared = (async (url: string) => {
      const rel = new URL(url).pathname.split('/resolve/')[1]!.split('/').slice(1).join('/');
      served.push(rel);
      const file = join(shared, rel);
      return existsSync(file) ? new Response(readFileSync(file)) : new Response('not found', { status: 404 });
    }) as typeof fetch;
    const root = mkdtempSync(join(tmpdir(), 'fetch-model-'));
    const dir = await fetchModel({ dest: join(root, 'models/all-MiniLM-L6-v2'), fetch: fromShared });
    expect(served).toEqual(modelFiles().map((f) => f.path));
    const e = new LocalEmbedder({ dir });
    try {
      const [a, b] = await e.embed(['How do I reset my password?', 'What are the steps to change my password?']);
      expect(a).toHaveLength(384);
      expect(dot(a!, b!)).toBeGreaterThan(0.8);
    } finally {
      await e.close();
    }
    const failing = (async (url: string) => (url.endsWith('model.onnx') ? new Response('gone', { status: 503 }) : fromShared(url))) as typeof fetch;
    const dest2 = join(root, 'second');
    await expect(fetchModel({ dest: dest2, fetch: failing })).rejects.toThrow(/HTTP 503/);
    expect(existsSync(dest2)).toBe(false);
    expect(existsSync(`${dest2}.partial-${process.pid}`)).toBe(false);
  });
});
