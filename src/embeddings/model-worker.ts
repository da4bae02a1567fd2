/**
 * The thread the local model runs on. onnxruntime-node's `session.run` is synchronous on the calling thread
 * (its promise only defers the call with setImmediate): on the event loop, one embedding would stall every
 * request for 5-50 ms. Tokenization (about 3 ms for 8000 characters) runs here too.
 *
 * The worker's code is a string evaluated as CommonJS, so it runs the same from source (tsx, vitest) and from
 * the compiled build without a separate file to ship; the two libraries are passed as resolved paths.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ModelFiles } from './model-dir.js';

export interface WorkerOptions {
  files: ModelFiles;
  threads: number;
  pooling: 'mean' | 'cls';
}

const SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const { Tokenizer } = require(workerData.tokenizersPath);
const { files, threads, pooling } = workerData.options;

function int64(values) {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor('int64', data, [1, values.length]);
}

function filled(n, value) {
  return new ort.Tensor('int64', new BigInt64Array(n).fill(value), [1, n]);
}

function normalise(v) {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  if (sum > 0) { const inv = 1 / Math.sqrt(sum); for (let i = 0; i < v.length; i++) v[i] *= inv; }
  return v;
}

async function main() {
  const tokenizer = new Tokenizer(files.tokenizer, files.tokenizerConfig);
  // No spinning: idle intra-op threads would otherwise busy-wait after each run, taking the CPU from the event
  // loop (and from other gateways on the machine) for milliseconds.
  const session = await ort.InferenceSession.create(files.onnx, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  const inputs = session.inputNames;
  if (!inputs.includes('input_ids') || !inputs.includes('attention_mask')) throw new Error(files.onnx + ' takes ' + inputs.join(', ') + ', not input_ids and attention_mask');
  const outputs = session.outputNames;
  const pooled = outputs.includes('sentence_embedding');
  const output = pooled ? 'sentence_embedding' : (['token_embeddings', 'last_hidden_state'].find((o) => outputs.includes(o)) || outputs[0]);
  const tokenTypeIds = inputs.includes('token_type_ids');

  // [CLS] ... [SEP], cut at the model's limit keeping the closing special token (as the Rust tokenizer truncates).
  function encode(text) {
    const ids = tokenizer.encode(text).ids;
    return ids.length <= files.maxTokens ? ids : ids.slice(0, files.maxTokens - 1).concat([ids[ids.length - 1]]);
  }

  async function embed(text) {
    const ids = encode(text);
    const feeds = { input_ids: int64(ids), attention_mask: filled(ids.length, 1n) };
    if (tokenTypeIds) feeds.token_type_ids = filled(ids.length, 0n);
    const result = await session.run(feeds, [output]);
    const t = result[output];
    const data = t.data;
    let out;
    if (pooled) out = Float32Array.from(data);
    else {
      // [1, tokens, hidden]: one text, no padding, so every position counts in the mean.
      const tokens = t.dims[1], hidden = t.dims[2];
      out = new Float32Array(hidden);
      if (pooling === 'cls') out.set(data.subarray(0, hidden));
      else {
        for (let p = 0; p < tokens; p++) for (let h = 0; h < hidden; h++) out[h] += data[p * hidden + h];
        for (let h = 0; h < hidden; h++) out[h] /= tokens;
      }
    }
    for (const v of Object.values(result)) v.dispose();
    return normalise(out);
  }

  parentPort.on('message', async (msg) => {
    if (msg.type === 'close') { await session.release(); parentPort.close(); return; }
    try {
      const v = await embed(msg.text);
      parentPort.postMessage({ id: msg.id, vector: v }, [v.buffer]);
    } catch (err) {
      parentPort.postMessage({ id: msg.id, error: String(err && err.message || err) });
    }
  });
  parentPort.postMessage({ type: 'ready', pooled, output });
}

main().catch((err) => parentPort.postMessage({ type: 'failed', error: String(err && err.message || err) }));
`;

/** One model on its own thread: embed() posts a text and resolves with its vector. */
export class ModelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: Float32Array) => void; reject: (e: Error) => void }>();
  private next = 0;
  private dead?: Error;
  readonly ready: Promise<void>;

  constructor(opts: WorkerOptions) {
    const require = createRequire(import.meta.url);
    this.worker = new Worker(SOURCE, {
      eval: true,
      workerData: { ortPath: require.resolve('onnxruntime-node'), tokenizersPath: require.resolve('@huggingface/tokenizers'), options: opts },
    });
    // Idle, the thread must not keep the process alive; pending work is tracked by the callers' promises.
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (msg: { type?: string; id?: number; vector?: Float32Array; error?: string }) => {
        if (msg.type === 'ready') return resolve();
        if (msg.type === 'failed') {
          this.fail(new Error(msg.error));
          return reject(this.dead);
        }
        const p = this.pending.get(msg.id!);
        if (!p) return;
        this.pending.delete(msg.id!);
        if (msg.error !== undefined) p.reject(new Error(msg.error));
        else p.resolve(msg.vector!);
      });
      const gone = (err: Error) => {
        this.fail(err);
        reject(err);
      };
      this.worker.on('error', gone);
      this.worker.on('exit', (code) => gone(new Error(`the model thread exited (code ${code})`)));
    });
    this.ready.catch(() => undefined);
  }

  get failed(): boolean {
    return this.dead !== undefined;
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async embed(text: string): Promise<Float32Array> {
    await this.ready;
    if (this.dead) throw this.dead;
    const id = this.next++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, text });
    });
  }

  async close(): Promise<void> {
    this.fail(new Error('the model was closed'));
    await this.worker.terminate();
  }
}
