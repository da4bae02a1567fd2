/**
 * How the benchmarks start the gateway: compiled (`node dist/main.js`, as production and the Docker image run it)
 * unless told otherwise, building dist/ first when it is missing or older than the sources, so the numbers are
 * always those of the code as it is. `tsx` runs the same program from source, for comparison.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureBuild } from '../../scripts/build-state.js';
import { COMPILED_ENTRY, GATEWAY_ENTRY, ROOT } from './paths.js';

/**
 * The node flags production runs the gateway with: those of `npm run start:prod` (the Dockerfile's CMD carries
 * the same, checked by test/unit/compose-file.test.ts), so a benchmark measures what ships.
 */
export function productionNodeFlags(root = ROOT): string[] {
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = scripts['start:prod']!.split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('dist/main.js')).filter((w) => w.startsWith('--'));
}

export type LaunchMode = 'compiled' | 'tsx';

let built = false;

/** Node arguments that start the gateway in `mode` (then its own arguments follow). */
export function gatewayArgs(mode: LaunchMode): string[] {
  if (mode === 'tsx') return ['--import', 'tsx', GATEWAY_ENTRY];
  if (!built) {
    ensureBuild(ROOT, (m) => console.log(m));
    built = true;
  }
  return [COMPILED_ENTRY];
}

/** BENCH_GATEWAY=tsx runs the benchmark on the source instead of the build. */
export function launchModeFromEnv(env: NodeJS.ProcessEnv = process.env): LaunchMode {
  const raw = env.BENCH_GATEWAY ?? 'compiled';
  if (raw !== 'compiled' && raw !== 'tsx') throw new Error(`BENCH_GATEWAY must be compiled or tsx, not '${raw}'`);
  return raw;
}
