import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FAKE_ENTRY = path.join(ROOT, 'test/fake-provider/main.ts');
export const GATEWAY_ENTRY = path.join(ROOT, 'src/main.ts');
/** The compiled gateway (`npm run build`), what production runs. */
export const COMPILED_ENTRY = path.join(ROOT, 'dist/main.js');
export const RESULTS_DIR = path.join(ROOT, 'bench/results');
