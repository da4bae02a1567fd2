/**
 * Where the local sentence model lives and what is in its directory (the Hugging Face layout: config.json,
 * tokenizer.json, tokenizer_config.json, onnx/model.onnx and onnx/model_quantized.onnx).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmbedderError } from './types.js';

/** The environment variable naming the model directory when the config does not. */
export const MODEL_DIR_ENV = 'GATEWAY_EMBEDDING_MODEL_DIR';

export const HOW_TO_GET_THE_MODEL =
  `set ${MODEL_DIR_ENV} (or cache.embedder.dir) to a sentence-transformers ONNX model directory; ` +
  '`npm run fetch-model` downloads all-MiniLM-L6-v2 into .tools/models/all-MiniLM-L6-v2';

/** The configured directory, else the environment's; absolute. Undefined when neither names one. */
export function modelDirFrom(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const d = dir ?? (env[MODEL_DIR_ENV] || undefined);
  return d === undefined ? undefined : resolve(d);
}

export interface ModelFiles {
  dir: string;
  onnx: string;
  tokenizer: object;
  tokenizerConfig: object;
  /** Tokens per input, [CLS] and [SEP] included; longer inputs are cut (as sentence-transformers does). */
  maxTokens: number;
  /** config.json's hidden_size. */
  hiddenSize?: number;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new EmbedderError(`local embedder: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Checks the directory has what the embedder needs and reads its small files; the model is not loaded here. */
export function readModelDir(dir: string, quantized: boolean): ModelFiles {
  if (!existsSync(dir)) throw new EmbedderError(`local embedder: model directory ${dir} does not exist (${HOW_TO_GET_THE_MODEL})`);
  const onnx = join(dir, 'onnx', quantized ? 'model_quantized.onnx' : 'model.onnx');
  if (!existsSync(onnx)) throw new EmbedderError(`local embedder: no ${quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx'} in ${dir} (${HOW_TO_GET_THE_MODEL})`);
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new EmbedderError(`local embedder: no tokenizer.json in ${dir} (${HOW_TO_GET_THE_MODEL})`);
  const tokenizerConfigPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(tokenizerConfigPath) ? readJson(tokenizerConfigPath) : {};
  const stPath = join(dir, 'sentence_bert_config.json');
  const st = existsSync(stPath) ? readJson(stPath) : {};
  const configPath = join(dir, 'config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  // sentence-transformers' own limit first (what the model was trained and evaluated with), then the tokenizer's,
  // never beyond the position embeddings.
  const positions = numberOr(config.max_position_embeddings, 512);
  const wanted = numberOr(st.max_seq_length, numberOr(tokenizerConfig.model_max_length, positions));
  const hidden = config.hidden_size ?? config.d_model ?? config.dim;
  return {
    dir,
    onnx,
    tokenizer: readJson(tokenizerPath),
    tokenizerConfig,
    maxTokens: Math.min(wanted, positions),
    ...(typeof hidden === 'number' && Number.isInteger(hidden) && hidden > 0 && { hiddenSize: hidden }),
  };
}

/** Tokenizer configs write "no limit" as a huge number. */
function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 1_000_000 ? v : fallback;
}

/** Where `npm run fetch-model` puts the model, relative to the project. */
export const FETCHED_MODEL_DIR = '.tools/models/all-MiniLM-L6-v2';

/**
 * For the entry point: the environment's directory, else the first that holds a model of
 * `.tools/models/all-MiniLM-L6-v2` (npm run fetch-model) and `../shared/models/all-MiniLM-L6-v2` (a copy
 * kept beside the checkout), relative to `cwd`.
 */
export function findModelDir(env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (env[MODEL_DIR_ENV]) return resolve(cwd, env[MODEL_DIR_ENV]);
  // The int8 file is what the default embedder loads (fetch-model gets both).
  return [FETCHED_MODEL_DIR, '../shared/models/all-MiniLM-L6-v2'].map((d) => resolve(cwd, d)).find((d) => existsSync(join(d, 'onnx', 'model_quantized.onnx')) && existsSync(join(d, 'tokenizer.json')));
}
