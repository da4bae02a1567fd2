/** The sentence model the tests load: GATEWAY_EMBEDDING_MODEL_DIR, else `npm run fetch-model`'s copy in .tools/, else the shared copy beside the checkout. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { HOW_TO_GET_THE_MODEL, MODEL_DIR_ENV } from '../../src/embeddings/model-dir.js';

export function modelDirForTests(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env[MODEL_DIR_ENV], resolve(import.meta.dirname, '../../.tools/models/all-MiniLM-L6-v2'), resolve(import.meta.dirname, '../../../shared/models/all-MiniLM-L6-v2')].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(resolve(d, 'onnx/model.onnx')));
  if (!found) throw new Error(`no embedding model found (looked in ${candidates.join(', ')}): ${HOW_TO_GET_THE_MODEL}`);
  return resolve(found);
}
