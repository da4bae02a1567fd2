/**
 * `npm run fetch-model [-- --dest DIR] [--revision REV]`: downloads all-MiniLM-L6-v2 in ONNX from the Hugging
 * Face Hub into .tools/models/all-MiniLM-L6-v2 (the same layout as ../shared/models/all-MiniLM-L6-v2) and prints
 * the GATEWAY_EMBEDDING_MODEL_DIR line to set. `npm start` finds that directory by itself.
 *
 * The tokenizer, configs and fp32 graph come from sentence-transformers/all-MiniLM-L6-v2 (its onnx/model.onnx
 * outputs per-token embeddings: the embedder mean-pools and normalises them, giving the vectors the pooled
 * shared export gives); the int8 graph (`quantized: true`) from Xenova/all-MiniLM-L6-v2. Files land in a
 * temporary directory first, so an interrupted download never leaves a half model where the gateway looks.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FETCHED_MODEL_DIR, MODEL_DIR_ENV } from '../src/embeddings/model-dir.js';

export const HUB = 'https://huggingface.co';
export const REPO = 'sentence-transformers/all-MiniLM-L6-v2';
export const QUANTIZED_REPO = 'Xenova/all-MiniLM-L6-v2';

const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'sentence_bert_config.json', 'modules.json', '1_Pooling/config.json', 'onnx/model.onnx'];

export interface ModelFile {
  url: string;
  /** Relative to the model directory. */
  path: string;
}

/** What is downloaded, from where, to where. */
export function modelFiles(revision = 'main'): ModelFile[] {
  const at = (repo: string, file: string) => `${HUB}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
  return [...FILES.map((f) => ({ url: at(REPO, f), path: f })), { url: at(QUANTIZED_REPO, 'onnx/model_quantized.onnx'), path: 'onnx/model_quantized.onnx' }];
}

export async function fetchModel(opts: { dest: string; revision?: string; fetch?: typeof fetch; log?: (line: string) => void }): Promise<string> {
  const get = opts.fetch ?? fetch;
  const dest = resolve(opts.dest);
  const tmp = `${dest}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    for (const f of modelFiles(opts.revision)) {
      const res = await get(f.url);
      if (!res.ok) throw new Error(`GET ${f.url}: HTTP ${res.status}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      mkdirSync(dirname(join(tmp, f.path)), { recursive: true });
      writeFileSync(join(tmp, f.path), bytes);
      opts.log?.(`${f.path} (${(bytes.length / 1e6).toFixed(1)} MB)`);
    }
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(tmp, dest);
    return dest;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dest = arg('--dest') ?? FETCHED_MODEL_DIR;
  fetchModel({ dest, revision: arg('--revision'), log: (l) => console.log(`  ${l}`) }).then(
    (dir) => {
      console.log(`\nall-MiniLM-L6-v2 is in ${dir}. npm start finds it there; elsewhere set:\n  export ${MODEL_DIR_ENV}=${dir}`);
    },
    (err: unknown) => {
      console.error(`fetch-model failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
