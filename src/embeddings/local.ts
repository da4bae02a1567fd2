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
 * Cost on the serving path: the model and its tokenizer run on a worker thread (model-worker.ts), because
 * onnxruntime-node's session.run blocks the thread that calls it; inputs are cut at the model's token limit.
 * Identical texts are embedded once (an LRU keyed by the text's hash and the caller's scope, the tenant), and one
 * loaded model is shared by every embedder on the same directory and file, so the cache and semantic routing
 * hold it once and, for one request's text, share one run.
 */
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { VectorLru, textKey } from './lru.js';
import { HOW_TO_GET_THE_MODEL, modelDirFrom, readModelDir, type ModelFiles } from './model-dir.js';
import { ModelWorker } from './model-worker.js';
import { type EmbedOptions, type Embedder, EmbedderError, checkDimension } from './types.js';

export interface LocalEmbedderOptions {
  /** The model directory; default GATEWAY_EMBEDDING_MODEL_DIR. */
  dir?: string;
  /** onnx/model_quantized.onnx (int8, the default) rather than onnx/model.onnx (fp32): faster, vectors differ slightly. */
  quantized?: boolean;
  /** Overrides the dimension read from the model's config.json (`hidden_size`). */
  dimension?: number;
  /** Pooling of token embeddings, for graphs without a `sentence_embedding` output. */
  pooling?: 'mean' | 'cls';
  /** onnxruntime's intra-op threads; default defaultThreads(). */
  threads?: number;
  /** Vectors remembered by text; 0 turns the memo off. */
  memoEntries?: number;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_MEMO_ENTRIES = 1024;

/**
 * Half the CPUs, at most 4: the other half is left to the event loop and the rest of the machine. A prompt is
 * 10-50 tokens, too little work to split well: every operator waits for the slower thread, and a busy machine
 * preempts one of them. On 2 shared CPUs (bench/embedder.ts) the int8 model embedded a prompt in 3.4 ms p50 on one
 * thread and 5.0 ms on two; with spinning (ORT's default) two took 11 ms in a raw session.run test: no spinning.
 */
export function defaultThreads(cpus = availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cpus / 2)));
}

/** A loaded model, shared by the embedders that use the same file with the same settings. */
interface SharedModel {
  key: string;
  users: number;
  worker: ModelWorker;
  memo: VectorLru;
  /** Texts being embedded now: a second request for one waits for the first run instead of starting another. */
  inFlight: Map<string, Promise<Float32Array>>;
  runs: number;
}

const shared = new Map<string, SharedModel>();

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
    const quantized = opts.quantized ?? true;
    this.files = readModelDir(dir, quantized);
    const dimension = opts.dimension ?? this.files.hiddenSize;
    if (dimension === undefined) throw new EmbedderError(`local embedder: ${dir}/config.json names no hidden_size; set embedder.dimension`);
    this.dimension = dimension;
    this.pooling = opts.pooling ?? 'mean';
    this.threads = opts.threads ?? defaultThreads();
    this.memoEntries = opts.memoEntries ?? DEFAULT_MEMO_ENTRIES;
    this.id = `local:${basename(dir)}${quantized ? '-int8' : ''}/${this.dimension}`;
    // Loading takes about a second: start now so the first request does not wait for it.
    this.acquire();
  }

  private acquire(): SharedModel {
    if (this.model && !this.model.worker.failed) return this.model;
    const key = `${this.files.onnx}|${this.threads}|${this.pooling}|${this.memoEntries}`;
    let m = shared.get(key);
    // A failed load or a crashed thread is replaced on the next call (a file being copied in, say).
    if (!m || m.worker.failed) {
      m = { key, users: 0, runs: 0, memo: new VectorLru(this.memoEntries), inFlight: new Map(), worker: new ModelWorker({ files: this.files, threads: this.threads, pooling: this.pooling }) };
      shared.set(key, m);
    }
    m.users++;
    this.model = m;
    return m;
  }

  /** Resolves once the model is loaded (rejects if it cannot be). */
  async ready(): Promise<void> {
    await this.acquire().worker.ready.catch((err: unknown) => {
      throw this.loadError(err);
    });
  }

  private loadError(err: unknown): EmbedderError {
    return err instanceof EmbedderError ? err : new EmbedderError(`local embedder: ${this.files.onnx}: ${(err as Error).message}`, { cause: err });
  }

  async embed(texts: readonly string[], signal?: AbortSignal, opts: EmbedOptions = {}): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const m = this.acquire();
    await this.ready();
    const out: Float32Array[] = [];
    for (const text of texts) {
      signal?.throwIfAborted();
      const key = textKey(text, opts.scope);
      let v = m.memo.get(key);
      if (!v) {
        let running = m.inFlight.get(key);
        if (!running) {
          m.runs++;
          running = m.worker.embed(text).finally(() => m.inFlight.delete(key));
          m.inFlight.set(key, running);
        }
        v = await running.catch((err: unknown) => {
          throw this.loadError(err);
        });
        m.memo.set(key, v);
      }
      // A copy: callers may keep or scale what they get without touching the memo.
      out.push(Float32Array.from(v));
    }
    checkDimension(out, this.dimension, `local model ${this.dir}`);
    return out;
  }

  /** Model runs started by the embedders sharing this model (memo and in-flight hits not counted). */
  get runs(): number {
    return this.model?.runs ?? 0;
  }

  async close(): Promise<void> {
    const m = this.model;
    if (!m) return;
    this.model = undefined;
    if (--m.users > 0) return;
    if (shared.get(m.key) === m) shared.delete(m.key);
    await m.worker.close();
  }
}
