import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FAKE_ENTRY = path.join(ROOT, 'test/fake-provider/main.ts');
export const GATEWAY_ENTRY = path.join(ROOT, 'src/main.ts');
export const RESULTS_DIR = path.join(ROOT, 'bench/results');
