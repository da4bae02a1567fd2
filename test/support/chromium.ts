/**
 * A headless Chromium for browser tests, without apt: CHROMIUM_PATH, else a `chromium` on PATH (Debian's
 * package), else the browser bundled by npm's @sparticuz/chromium (a devDependency; it unpacks itself into
 * the temp dir on first use).
 */
import sparticuz from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';
import { executable, onPath } from '../../src/tools/executables.js';

export interface LaunchedChromium {
  browser: Browser;
  /** Which browser it is, for messages. */
  source: 'CHROMIUM_PATH' | 'PATH' | '@sparticuz/chromium';
  executablePath: string;
}

/** Flags for a full desktop build in a container: no user namespaces for the sandbox, no GPU. */
const SYSTEM_CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu'];

export async function launchChromium(): Promise<LaunchedChromium> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!executable(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
    return launch('CHROMIUM_PATH', fromEnv, SYSTEM_CHROMIUM_ARGS);
  }
  const system = onPath('chromium');
  if (system) return launch('PATH', system, SYSTEM_CHROMIUM_ARGS);
  let bundled: string;
  try {
    bundled = await sparticuz.executablePath();
  } catch (err) {
    throw new Error(
      `No Chromium for the browser tests: CHROMIUM_PATH is unset, there is no \`chromium\` on PATH, and @sparticuz/chromium could not unpack its browser (${(err as Error).message}). Run \`npm ci\` (it is a devDependency) or set CHROMIUM_PATH.`,
    );
  }
  // Its headless shell fails on GL initialisation with ad-hoc flags: the package's own args are required.
  return launch('@sparticuz/chromium', bundled, sparticuz.args);
}

async function launch(source: LaunchedChromium['source'], executablePath: string, args: string[]): Promise<LaunchedChromium> {
  try {
    return { browser: await chromium.launch({ executablePath, args, timeout: 30_000 }), source, executablePath };
  } catch (err) {
    throw new Error(`Chromium from ${source} (${executablePath}) did not start: ${(err as Error).message}`);
  }
}
