/**
 * The targets `npm run bench:peers` puts in front of the fake provider, one at a time: the minimal pass-through
 * proxy, this gateway (compiled), Portkey's OSS gateway (npm) and LiteLLM's proxy (pip). The peers are pinned and
 * installed into `.tools/` on first use (never project dependencies), each set up the way its docs say to point
 * it at a custom OpenAI-compatible server.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/durable/dev-server.js';
import { onPath } from '../../src/tools/executables.js';
import { ensureTool, type PipTool } from '../../src/tools/pip-tool.js';
import { describeFailure, startChild, type Child } from './children.js';
import { startUrlChild } from './fake.js';
import { ALIAS, UPSTREAM_MODEL, gatewayYaml, waitForHealthz } from './gateway.js';
import { gatewayArgs, productionNodeFlags } from './launch.js';
import { ROOT } from './paths.js';

export const PORTKEY_VERSION = '1.15.2';
export const LITELLM_VERSION = '1.108.7';

/** A target started and answering, with what the load generator needs to call it. */
export interface RunningTarget {
  child: Child;
  url: string;
  version: string;
  /** The model name the client sends. */
  model: string;
  apiKey?: string;
  extraHeaders?: Record<string, string>;
}

export interface TargetSpec {
  key: string;
  label: string;
  /** Builds or installs what `start` needs, before any block runs (so no block's numbers include an install). */
  prepare(): void;
  start(fakeUrl: string, tmpDir: string): Promise<RunningTarget>;
}

const log = (m: string) => console.log(m);

// ---------------------------------------------------------------------------------------------- installs

function portkeyPackageDir(root: string) {
  return path.join(root, 'node_modules/@portkey-ai/gateway');
}

function installedNpmVersion(pkgDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * `.tools/portkey`, installed with npm on first use (into a staging directory renamed into place, so an
 * interrupted install is never taken for a finished one). Its postinstall (patch-package) has no patches in the
 * published package, so scripts are not run.
 */
export function ensurePortkey(): string {
  const target = path.join(ROOT, '.tools/portkey');
  if (installedNpmVersion(portkeyPackageDir(target)) !== PORTKEY_VERSION) {
    const staging = `${target}.installing-${process.pid}`;
    log(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${path.relative(ROOT, target)}/ (first use) ...`);
    rmSync(staging, { recursive: true, force: true });
    try {
      execFileSync('npm', ['install', '--prefix', staging, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', `@portkey-ai/gateway@${PORTKEY_VERSION}`], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      rmSync(target, { recursive: true, force: true });
      renameSync(staging, target);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const entry = path.join(portkeyPackageDir(target), 'build/start-server.js');
  if (!existsSync(entry)) throw new Error(`@portkey-ai/gateway@${PORTKEY_VERSION} installed but ${entry} is missing`);
  return entry;
}

const LITELLM_TOOL: PipTool = {
  label: 'the LiteLLM proxy',
  pathNames: [], // a litellm on PATH may be any version: the pinned one under .tools/ is what is measured
  requirement: `litellm[proxy]==${LITELLM_VERSION}`,
  dir: 'litellm',
  binary: 'bin/litellm',
};

/** The installed LiteLLM's version, from its dist-info (what pip installed, not what was asked for). */
function litellmVersion(dir: string): string {
  const info = readdirSync(dir).find((d) => /^litellm-[\d.]+\.dist-info$/.test(d));
  return info ? info.slice('litellm-'.length, -'.dist-info'.length) : 'unknown';
}

// ---------------------------------------------------------------------------------------------- targets

export function pythonVersion(): string | undefined {
  const python = onPath('python3') ?? onPath('python');
  if (!python) return undefined;
  return execFileSync(python, ['--version'], { encoding: 'utf8' }).trim().replace(/^Python /, '');
}

function gatewayVersion(): string {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return commit ? `${version} (${commit})` : version;
}

/** Polls until `child` answers `probe` with any HTTP status, or fails with its last output. */
async function waitForAnswer(child: Child, url: string, probe: string, timeoutMs: number): Promise<void> {
  if (!(await waitForHealthz(child, url, timeoutMs, probe))) throw describeFailure(child, `exited (code ${child.proc.exitCode}) before answering ${probe}`);
}

export const minimalProxy: TargetSpec = {
  key: 'proxy',
  label: 'minimal Node pass-through',
  prepare() {},
  async start(fakeUrl) {
    const { child, url } = await startUrlChild('minimal proxy', [path.join(ROOT, 'bench/null-proxy.ts'), '--upstream', fakeUrl, '--model', UPSTREAM_MODEL, '--port', '0']);
    return { child, url, version: 'bench/null-proxy.ts', model: ALIAS };
  },
};

/** The fast path as production runs it: compiled, keys checked, logging at info, metrics on (the default). */
export const gateway: TargetSpec = {
  key: 'gateway',
  label: 'this gateway',
  prepare() {
    gatewayArgs('compiled'); // builds dist/ when it is older than the sources
  },
  async start(fakeUrl, tmpDir) {
    const args = [...productionNodeFlags(), ...gatewayArgs('compiled')];
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configPath = path.join(tmpDir, 'gateway-peers.yaml');
      writeFileSync(configPath, gatewayYaml('bench/peers.ts', fakeUrl, port, ['durable: { enabled: false }'], { logLevel: 'info' }));
      const child = startChild('gateway', [...args, '--config', configPath]);
      const url = `http://127.0.0.1:${port}`;
      if (await waitForHealthz(child, url, 30_000)) return { child, url, version: gatewayVersion(), model: ALIAS };
      if (attempt < 3 && child.tail.some((l) => l.includes('EADDRINUSE'))) continue;
      throw describeFailure(child, `exited (code ${child.proc.exitCode}) before answering /healthz`);
    }
  },
};

/** Portkey's OSS gateway routes per request: provider `openai` with a custom host is its OpenAI-compatible route. */
export const portkey: TargetSpec = {
  key: 'portkey',
  label: 'Portkey gateway',
  prepare() {
    ensurePortkey();
  },
  async start(fakeUrl) {
    const entry = ensurePortkey();
    const port = await freePort();
    const child = startChild('portkey', [entry, `--port=${port}`, '--headless']);
    const url = `http://127.0.0.1:${port}`;
    await waitForAnswer(child, url, '/', 30_000);
    return {
      child,
      url,
      version: installedNpmVersion(path.dirname(path.dirname(entry))) ?? PORTKEY_VERSION,
      model: UPSTREAM_MODEL,
      extraHeaders: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${fakeUrl}/v1` },
    };
  },
};

/** A key LiteLLM checks (its master key): set here, so it is no secret. */
const LITELLM_MASTER_KEY = 'sk-bench-litellm';

/** LiteLLM's proxy with `workers` uvicorn workers; its model list points `openai/<model>` at the fake provider. */
export function litellm(workers: number): TargetSpec {
  return {
    key: `litellm-${workers}w`,
    label: `LiteLLM proxy, ${workers} worker${workers === 1 ? '' : 's'}`,
    prepare() {
      ensureTool(LITELLM_TOOL, ROOT, log);
    },
    async start(fakeUrl, tmpDir) {
      const bin = ensureTool(LITELLM_TOOL, ROOT, log);
      const dir = path.dirname(path.dirname(bin));
      const python = onPath('python3') ?? onPath('python');
      if (!python) throw new Error('LiteLLM needs python3 on PATH');
      const configPath = path.join(tmpDir, `litellm-${workers}.yaml`);
      writeFileSync(
        configPath,
        [
          'model_list:',
          `  - model_name: ${ALIAS}`,
          '    litellm_params:',
          `      model: openai/${UPSTREAM_MODEL}`,
          `      api_base: ${fakeUrl}/v1`,
          '      api_key: bench-key',
          'general_settings:',
          `  master_key: ${LITELLM_MASTER_KEY}`,
          'litellm_settings:',
          '  telemetry: false',
          '',
        ].join('\n'),
      );
      const port = await freePort();
      const child = startChild(
        `litellm (${workers}w)`,
        [
          ...[bin, '--config', configPath, '--host', '127.0.0.1', '--port', String(port), '--num_workers', String(workers)],
          // uvicorn restarts a worker that has not reported within 5 s; importing LiteLLM takes longer than that
          // on a loaded 2-core machine, so with the default no worker ever comes up.
          ...(workers > 1 ? ['--timeout_worker_healthcheck', '180'] : []),
        ],
        {
          command: python,
          // The model cost map is fetched from the internet at start unless told to use the bundled copy.
          env: { ...process.env, PYTHONPATH: dir, LITELLM_LOCAL_MODEL_COST_MAP: 'True', PYTHONUNBUFFERED: '1' },
        },
      );
      const url = `http://127.0.0.1:${port}`;
      await waitForAnswer(child, url, '/health/liveliness', 180_000);
      return { child, url, version: litellmVersion(dir), model: ALIAS, apiKey: LITELLM_MASTER_KEY };
    },
  };
}
