/**
 * A sentence-embedding model from a local directory (an ONNX export in the Hugging Face layout: config.json,
 * tokenizer files, onnx/model.onnx), run in-process by `@huggingface/transformers`. Never downloads: the
 * library is told to use local files only. The library is an optional dependency, loaded only when this
 * embedder is configured, so the default install stays small (`npm install @huggingface/transformers`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Embedder, EmbedderError, checkDimension, normalise } from './types.js';

/** The part of a feature-extraction pipeline this embedder uses. */
export type FeatureExtractor = (texts: string[], opts: { pooling: 'mean' | 'cls'; normalize: boolean }) => Promise<{ tolist(): number[][] }>;
export type ExtractorFactory = (modelDir: string) => Promise<FeatureExtractor>;

export interface LocalEmbedderOptions {
  dir: string;
  /** Overrides the dimension read from the model's config.json (`hidden_size`). */
  dimension?: number;
  pooling?: 'mean' | 'cls';
  /** For tests: builds the extractor instead of the library. */
  factory?: ExtractorFactory;
}

const LIBRARY = '@huggingface/transformers';

interface TransformersModule {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  pipeline(task: 'feature-extraction', model: string, opts: { local_files_only: boolean }): Promise<FeatureExtractor>;
}

/** Loads the optional library by a name TypeScript does not resolve, so the project builds without it. */
async function transformersFactory(modelDir: string): Promise<FeatureExtractor> {
  let lib: TransformersModule;
  try {
    lib = (await import(LIBRARY as string)) as TransformersModule;
  } catch (err) {
    throw new EmbedderError(`the local embedder needs the optional package ${LIBRARY} (npm install ${LIBRARY})`, { cause: err });
  }
  lib.env.allowRemoteModels = false;
  lib.env.allowLocalModels = true;
  lib.env.localModelPath = dirname(modelDir);
  return lib.pipeline('feature-extraction', basename(modelDir), { local_files_only: true });
}

/** The model's output width, from its config.json. */
export function modelDimension(dir: string): number {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new EmbedderError(`local embedder: no config.json in ${dir} (expected a Hugging Face model directory)`);
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as { hidden_size?: number; dim?: number; d_model?: number };
  const d = cfg.hidden_size ?? cfg.d_model ?? cfg.dim;
  if (!Number.isInteger(d) || d! <= 0) throw new EmbedderError(`local embedder: ${path} names no hidden_size; set embedder.dimension`);
  return d!;
}

export class LocalEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  private readonly dir: string;
  private extractor?: Promise<FeatureExtractor>;

  constructor(private readonly opts: LocalEmbedderOptions) {
    this.dir = resolve(opts.dir);
    if (!existsSync(this.dir)) throw new EmbedderError(`local embedder: model directory ${this.dir} does not exist`);
    this.dimension = opts.dimension ?? modelDimension(this.dir);
    this.id = `local:${basename(this.dir)}/${this.dimension}`;
  }

  /** Loads the model once, on first use; a failed load is retried on the next call. */
  private load(): Promise<FeatureExtractor> {
    this.extractor ??= (this.opts.factory ?? transformersFactory)(this.dir).catch((err: unknown) => {
      this.extractor = undefined;
      throw err instanceof EmbedderError ? err : new EmbedderError(`local embedder: cannot load the model in ${this.dir}: ${(err as Error).message}`, { cause: err });
    });
    return this.extractor;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const extract = await this.load();
    signal?.throwIfAborted();
    const rows = (await extract([...texts], { pooling: this.opts.pooling ?? 'mean', normalize: true })).tolist();
    const out = rows.map((r) => normalise(Float32Array.from(r)));
    if (out.length !== texts.length) throw new EmbedderError(`local embedder returned ${out.length} vectors for ${texts.length} texts`);
    checkDimension(out, this.dimension, `local model ${this.dir}`);
    return out;
  }
}
