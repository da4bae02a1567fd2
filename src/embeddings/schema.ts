/**
 * How an embedder is configured, wherever one is used (the semantic cache, semantic routing):
 * `{ kind: local, dir?, quantized? }` (a sentence model run in-process; the default when
 * GATEWAY_EMBEDDING_MODEL_DIR names one), `{ kind: offline }` (hashed lexical features, no model: the
 * default without one), or `{ kind: provider, provider, model, dimension }`.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { MODEL_DIR_ENV } from './model-dir.js';

export const embedderSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('offline'),
    dimension: z.number().int().min(16).max(8192).default(256),
  }),
  z.strictObject({
    kind: z.literal('provider'),
    /** A name under `providers:`; its key and base URL are used. */
    provider: z.string().min(1),
    model: z.string().min(1),
    /** Length of the model's vectors (text-embedding-3-small: 1536); a different answer is an error. */
    dimension: z.number().int().positive(),
    /** Ask the model for `dimension` (models that can shorten their vectors, like OpenAI's -3 family). */
    requestDimensions: z.boolean().default(false),
  }),
  z.strictObject({
    kind: z.literal('local'),
    /**
     * A sentence-transformers ONNX model directory (tokenizer.json, onnx/model.onnx); relative to the config
     * file's directory. Absent: GATEWAY_EMBEDDING_MODEL_DIR, read when the embedder is built.
     */
    dir: z.string().min(1).optional(),
    /**
     * onnx/model_quantized.onnx (int8, the default): about twice as fast as onnx/model.onnx (fp32) on a CPU, vectors
     * within ~0.02 of fp32's; the cache and routing thresholds are calibrated for both (bench/cache-verify.ts).
     */
    quantized: z.boolean().default(true),
    /** Defaults to config.json's hidden_size. */
    dimension: z.number().int().positive().optional(),
    /** Only for graphs without a pooled `sentence_embedding` output. */
    pooling: z.enum(['mean', 'cls']).default('mean'),
    /** onnxruntime's threads per embedding; default half the CPUs (1 on 2 CPUs), at most 4. */
    threads: z.number().int().min(1).max(64).optional(),
  }),
]);

export type EmbedderConfig = z.output<typeof embedderSchema>;
export type EmbedderConfigInput = z.input<typeof embedderSchema>;

export const OFFLINE_EMBEDDER: EmbedderConfig = { kind: 'offline', dimension: 256 };

/**
 * The embedder used where none is configured: the local model when GATEWAY_EMBEDDING_MODEL_DIR names one,
 * else the offline one (and the gateway warns at start that the semantic tier is then lexical only).
 * The directory is made absolute here, against the cwd, as any path from the environment.
 */
export function defaultEmbedderConfig(env: NodeJS.ProcessEnv = process.env): EmbedderConfig {
  const dir = env[MODEL_DIR_ENV];
  return dir ? { kind: 'local', dir: resolve(dir), quantized: true, pooling: 'mean' } : OFFLINE_EMBEDDER;
}
