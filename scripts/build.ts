/**
 * `npm run build`: the production build in dist/, run with `node dist/main.js` and nothing from devDependencies.
 * 1. tsc (tsconfig.build.json) compiles src/, workflows/ and activities/ into dist/, mirroring the tree;
 * 2. files read from disk at run time (anything in those trees that is not TypeScript, e.g. the status page)
 *    are copied beside the compiled modules that read them;
 * 3. the workflow bundles are prebuilt into dist/ (scripts/build-workflow-bundle.ts);
 * 4. dist/main.js, the entry, is written last, so its presence means a complete build.
 * It builds into a fresh directory and swaps it in at the end: a failed build leaves the previous dist/ intact.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWorkflowBundles } from './build-workflow-bundle.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPILED_TREES = ['src', 'workflows', 'activities'];

function copyAssets(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const entry of readdirSync(from)) {
    const source = join(from, entry);
    const target = join(to, entry);
    if (statSync(source).isDirectory()) copied.push(...copyAssets(source, target));
    else if (!entry.endsWith('.ts')) {
      cpSync(source, target);
      copied.push(target);
    }
  }
  return copied;
}

async function main(): Promise<void> {
  const started = Date.now();
  const out = join(ROOT, `dist.building-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  try {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, stdio: 'inherit' });
    const assets = COMPILED_TREES.flatMap((tree) => copyAssets(join(ROOT, tree), join(out, tree)));
    const bundles = await buildWorkflowBundles(out);
    writeFileSync(join(out, 'main.js'), "// The compiled gateway's entry (see tsconfig.build.json: dist/ mirrors the repository).\nimport './src/main.js';\n");
    const dist = join(ROOT, 'dist');
    const old = join(ROOT, `dist.old-${process.pid}`);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(out, dist);
    rmSync(old, { recursive: true, force: true });
    const rel = (p: string) => p.replace(`${out}/`, 'dist/');
    console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s: assets ${assets.map(rel).join(', ') || 'none'}; bundles ${bundles.map(rel).join(', ')}`);
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
