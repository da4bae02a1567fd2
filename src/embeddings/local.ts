/**
 * A sentence-transformers model from a local directory, run in-process with onnxruntime-node and tokenized by
 * @huggingface/tokenizers. Never downloads anything: the directory comes from config or
 * GATEWAY_EMBEDDING_MODEL_DIR (`npm run fetch-model` fills one for users with internet).
 *
 * Vectors are the graph's `sentence_embedding` output when it has one (the sentence-transformers export:
 * mean-pooled and L2-normalised inside the graph), else the token embeddings mean-pooled over the attention
 * mask and normalised here, so both kinds of export give the same vectors. Each text is its own session run:
 * no padding, so a vector never depends on what else was in the batch (int8 kernels shift with padding).
 *
 * Cost on the serving path: session.run executes on onnxruntime's own threads (the event loop only waits);
 * tokenization is synchronous but takes tens of microseconds for a prompt, and inputs are cut at the
 * model's token limit. Identical texts are embedded once (an LRU keyed by the text's hash), and one loaded
 * model is shared by every embedder on the same directory and file, so the cache and semantic routing hold
 * it once.
 */
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { VectorLru, textKey } from './lru.js';
import { HOW_TO_GET_THE_MODEL, modelDirFrom, readModelDir, type ModelFiles } from './model-dir.js';
import { type Embedder, EmbedderError, checkDimension, normalise } from './types.js';

export interface LocalEmbedderOptions {
  /** The model directory; default GATEWAY_EMBEDDING_MODEL_DIR. */
  dir?: string;
  /** onnx/model_quantized.onnx (int8) instead of onnx/model.onnx (fp32): faster, vectors differ slightly. */
  quantized?: boolean;
  /** Overrides the dimension read from the model's config.json (`hidden_size`). */
  dimension?: number;
  /** Pooling of token embeddings, for graphs without a `sentence_embedding` output. */
  pooling?: 'mean' | 'cls';
  /** onnxruntime's intra-op threads; default min(4, CPUs). */
  threads?: number;
  /** Vectors remembered by text; 0 turns the memo off. */
  memoEntries?: number;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_MEMO_ENTRIES = 1024;

/** A loaded model, shared by the embedders that use the same file with the same threads. */
interface SharedModel {
  key: string;
  users: number;
  failed?: boolean;
  ready: Promise<LoadedModel>;
  memo: VectorLru;
  /** Texts being embedded now: a second request for one waits for the first run instead of starting another. */
  inFlight: Map<string, Promise<Float32Array>>;
}

interface LoadedModel {
  session: ort.InferenceSession;
  tokenizer: Tokenizer;
  files: ModelFiles;
  /** `sentence_embedding` when the graph pools itself, else the per-token output to pool here. */
  output: string;
  pooled: boolean;
  tokenTypeIds: boolean;
}

const shared = new Map<string, SharedModel>();

async function load(files: ModelFiles, threads: number): Promise<LoadedModel> {
  const tokenizer = new Tokenizer(files.tokenizer, files.tokenizerConfig);
  const session = await ort.InferenceSession.create(files.onnx, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const outputs = session.outputNames;
  const pooled = outputs.includes('sentence_embedding');
  const output = pooled ? 'sentence_embedding' : (['token_embeddings', 'last_hidden_state'].find((o) => outputs.includes(o)) ?? outputs[0]!);
  if (!session.inputNames.includes('input_ids') || !session.inputNames.includes('attention_mask')) {
    await session.release();
    throw new EmbedderError(`local embedder: ${files.onnx} takes ${session.inputNames.join(', ')}, not input_ids and attention_mask`);
  }
  return { session, tokenizer, files, output, pooled, tokenTypeIds: session.inputNames.includes('token_type_ids') };
}

/** Token ids of one text with [CLS]/[SEP], cut to the model's limit keeping the closing special token. */
export function encodeTruncated(tokenizer: Tokenizer, text: string, maxTokens: number): number[] {
  const ids = tokenizer.encode(text).ids;
  if (ids.length <= maxTokens) return ids;
  return [...ids.slice(0, maxTokens - 1), ids.at(-1)!];
}

function int64(values: readonly number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]!);
  return new ort.Tensor('int64', data, [1, values.length]);
}

async function embedOne(m: LoadedModel, text: string, pooling: 'mean' | 'cls'): Promise<Float32Array> {
  const ids = encodeTruncated(m.tokenizer, text, m.files.maxTokens);
  const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)) };
  if (m.tokenTypeIds) feeds.token_type_ids = int64(ids.map(() => 0));
  const result = await m.session.run(feeds, [m.output]);
  const t = result[m.output]!;
  const data = t.data as Float32Array;
  for (const v of Object.values(result)) v.dispose();
  if (m.pooled) return normalise(Float32Array.from(data));
  // [1, tokens, hidden]: one text and no padding, so every position counts.
  const hidden = t.dims[2]!;
  const tokens = t.dims[1]!;
  const out = new Float32Array(hidden);
  if (pooling === 'cls') out.set(data.subarray(0, hidden));
  else {
    for (let p = 0; p < tokens; p++) for (let h = 0; h < hidden; h++) out[h]! += data[p * hidden + h]!;
    for (let h = 0; h < hidden; h++) out[h]! /= tokens;
  }
  return normalise(out);
}

export class LocalEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly dir: string;
  private readonly files: ModelFiles;
  private readonly pooling: 'mean' | 'cls';
  private readonly threads: number;
  private readonly memoEntries: number;
  private model?: SharedModel;

  constructor(opts: LocalEmbedderOptions = {}) {
    const dir = modelDirFrom(opts.dir, opts.env);
    if (dir === undefined) throw new EmbedderError(`local embedder: no model directory (${HOW_TO_GET_THE_MODEL})`);
    this.dir = dir;
    const quantized = opts.quantized ?? false;
    this.files = readModelDir(dir, quantized);
    const dimension = opts.dimension ?? this.files.hiddenSize;
    if (dimension === undefined) throw new EmbedderError(`local embedder: ${dir}/config.json names no hidden_size; set embedder.dimension`);
    this.dimension = dimension;
    this.pooling = opts.pooling ?? 'mean';
    this.threads = opts.threads ?? Math.max(1, Math.min(4, availableParallelism()));
    this.memoEntries = opts.memoEntries ?? DEFAULT_MEMO_ENTRIES;
    this.id = `local:${basename(dir)}${quantized ? '-int8' : ''}/${this.dimension}`;
    // Loading takes about a second: start now so the first request does not wait for it.
    this.acquire().ready.catch(() => undefined);
  }

  private acquire(): SharedModel {
    if (this.model && !this.model.failed) return this.model;
    const key = `${this.files.onnx}|${this.threads}|${this.pooling}|${this.memoEntries}`;
    let m = shared.get(key);
    if (!m) {
      const entry: SharedModel = { key, users: 0, memo: new VectorLru(this.memoEntries), inFlight: new Map(), ready: load(this.files, this.threads) };
      // A failed load is forgotten, so the next call tries again (a file being copied in, say).
      entry.ready = entry.ready.catch((err: unknown) => {
        entry.failed = true;
        if (shared.get(key) === entry) shared.delete(key);
        throw err instanceof EmbedderError ? err : new EmbedderError(`local embedder: cannot load ${this.files.onnx}: ${(err as Error).message}`, { cause: err });
      });
      shared.set(key, entry);
      m = entry;
    }
    m.users++;
    this.model = m;
    return m;
  }

  /** Resolves once the model is loaded (rejects if it cannot be). */
  async ready(): Promise<void> {
    await this.acquire().ready;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const m = this.acquire();
    const model = await m.ready;
    const out: Float32Array[] = [];
    for (const text of texts) {
      signal?.throwIfAborted();
      const key = textKey(text);
      let v = m.memo.get(key);
      if (!v) {
        let running = m.inFlight.get(key);
        if (!running) {
          running = embedOne(model, text, this.pooling).finally(() => m.inFlight.delete(key));
          m.inFlight.set(key, running);
        }
        v = await running;
        m.memo.set(key, v);
      }
      // A copy: callers may keep or scale what they get without touching the memo.
      out.push(Float32Array.from(v));
    }
    checkDimension(out, this.dimension, `local model ${this.dir}`);
    return out;
  }

  async close(): Promise<void> {
    const m = this.model;
    if (!m) return;
    this.model = undefined;
    if (--m.users > 0) return;
    if (shared.get(m.key) === m) shared.delete(m.key);
    const loaded = await m.ready.catch(() => undefined);
    await loaded?.session.release();
  }
}
