/**
 * Whether dist/ was built from the sources as they are now, and building it when not: the compiled-build test
 * and the benchmarks run `node dist/main.js`, and must measure what the sources produce, not an older build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Everything a build reads: a change to any of these makes dist/ stale. */
export const BUILD_INPUTS = ['src', 'workflows', 'activities', 'scripts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** The file scripts/build.ts writes last: its presence means the build finished. */
export const BUILD_STAMP = join('dist', 'main.js');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

export function distIsFresh(root: string): boolean {
  const stamp = join(root, BUILD_STAMP);
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return BUILD_INPUTS.every((input) => !existsSync(join(root, input)) || newestMtime(join(root, input)) < built);
}

/** Runs `npm run build` unless dist/ is fresh; says which it did. */
export function ensureBuild(root: string, log: (msg: string) => void = () => {}): 'reused' | 'built' {
  if (distIsFresh(root)) {
    log('dist/ is newer than every build input: reusing it');
    return 'reused';
  }
  log('dist/ is missing or older than the sources: npm run build');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  return 'built';
}
