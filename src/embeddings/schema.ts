/**
 * How an embedder is configured, wherever one is used (the semantic cache, semantic routing):
 * `{ kind: offline }` (default, no downloads), `{ kind: provider, provider, model, dimension }` or
 * `{ kind: local, dir }`.
 */
import { z } from 'zod';

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
    /** A Hugging Face model directory with an ONNX export; relative to the config file's directory. */
    dir: z.string().min(1),
    /** Defaults to config.json's hidden_size. */
    dimension: z.number().int().positive().optional(),
    pooling: z.enum(['mean', 'cls']).default('mean'),
  }),
]);

export type EmbedderConfig = z.output<typeof embedderSchema>;
export type EmbedderConfigInput = z.input<typeof embedderSchema>;
