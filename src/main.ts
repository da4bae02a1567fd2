/**
 * Entry point: `tsx src/main.ts --config gateway.yaml [--role all|gateway|worker] [--data-dir DIR]` (or
 * GATEWAY_CONFIG / GATEWAY_ROLE / GATEWAY_DATA_DIR); compiled, `node dist/main.js ...` (npm run build). A bad config stops here with every problem named by its path.
 */
import { ConfigError, configPathFrom, dataDirFrom, loadConfig } from './config/load.js';
import { startGateway, type Role, type RunningGateway } from './gateway.js';
import { launcherChain, watchLaunchers } from './durable/own-processes.js';
import { prebuiltWorkflowBundle } from './durable/prebuilt-bundle.js';
import { createLogger } from './observability/logger.js';
import { findModelDir, MODEL_DIR_ENV } from './embeddings/model-dir.js';
import { clusterChildRole, reportReady } from './cluster/child.js';
import { startClusterIfAsked } from './cluster/start.js';

async function main(): Promise<void> {
  const path = configPathFrom(process.argv.slice(2), process.env);
  if (!path) {
    console.error('No config given: pass --config path/to/gateway.yaml or set GATEWAY_CONFIG.');
    process.exit(2);
  }
  // The embedder's default (the local sentence model) reads the model directory from the environment.
  const modelDir = findModelDir(process.env, process.cwd());
  if (modelDir) process.env[MODEL_DIR_ENV] = modelDir;
  let config;
  try {
    config = loadConfig(path, process.env, { dataDir: dataDirFrom(process.argv.slice(2), process.env) });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const role = clusterChildRole() ?? roleFrom(process.argv.slice(2), process.env);
  const logger = createLogger(config.logging.level);
  // server.processes > 1: this process forks the HTTP processes and supervises them (src/cluster/)
  if (await startClusterIfAsked(config, role, process.argv.slice(2), process.env, logger, process.env.TEMPORAL_ADDRESS || undefined)) return;
  // A prebuilt workflow bundle saves the worker its start-up bundling: GATEWAY_WORKFLOW_BUNDLE, else (run
  // compiled) the one `npm run build` made for this tracing setting; run from source, the worker bundles itself.
  const runsWorker = role === 'worker' || (role === 'all' && config.durable.enabled);
  const bundle = process.env.GATEWAY_WORKFLOW_BUNDLE || (runsWorker ? prebuiltWorkflowBundle(!!config.observability?.tracing.enabled)?.codePath : undefined);
  let gateway: RunningGateway | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await gateway?.close();
    process.exit(0);
  };
  // A SIGKILLed `npm start` (npm → sh → tsx → node) passes nothing on, and this process would keep serving,
  // holding the port the next `npm start` needs. So it stops itself once a launcher above it is gone.
  watchLaunchers(launcherChain(), (gone) => {
    logger.warn({ launcher: gone.pid }, 'the process that started the gateway is gone');
    void stop('launcher gone');
  });
  gateway = await startGateway(config, {
    logger,
    role,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    worker: bundle ? { workflowBundle: { codePath: bundle } } : undefined,
  });
  logger.info(
    { role, url: gateway.url || undefined, temporal: gateway.temporalAddress, temporalUi: gateway.temporalUiUrl, models: Object.keys(config.models) },
    role === 'worker' ? 'worker running' : 'gateway listening',
  );
  reportReady({ temporalAddress: gateway.temporalAddress });

  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

function roleFrom(argv: string[], env: NodeJS.ProcessEnv): Role {
  const i = argv.indexOf('--role');
  const raw = (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--role='))?.slice(7)) ?? env.GATEWAY_ROLE ?? 'all';
  if (raw !== 'all' && raw !== 'gateway' && raw !== 'worker') {
    console.error(`Unknown role '${raw}': use all, gateway or worker.`);
    process.exit(2);
  }
  return raw;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
