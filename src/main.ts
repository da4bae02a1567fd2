/**
 * Entry point: `tsx src/main.ts --config gateway.yaml` (or GATEWAY_CONFIG=...). A bad config stops here with
 * every problem named by its path.
 */
import { ConfigError, configPathFrom, loadConfig } from './config/load.js';
import { startGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

async function main(): Promise<void> {
  const path = configPathFrom(process.argv.slice(2), process.env);
  if (!path) {
    console.error('No config given: pass --config path/to/gateway.yaml or set GATEWAY_CONFIG.');
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logging.level);
  const gateway = await startGateway(config, { logger });
  logger.info({ url: gateway.url, models: Object.keys(config.models) }, 'gateway listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await gateway.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

void main();
