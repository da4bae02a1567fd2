/**
 * The project's own directory, found from this module's location (under tsx: src/tools/; compiled:
 * dist/src/tools/), so what lives there (.tools/) is found the same from any working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above `from` holding a package.json: the repository, or the image's app dir. */
export function projectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: cannot tell where the project is`);
  }
}
