/**
 * Assembles a running gateway and takes it down again. One binary, three roles:
 * - `all` (default): HTTP server + worker, and an embedded Temporal dev server when no address is configured;
 * - `gateway`: HTTP server only, submitting durable requests to a Temporal cluster;
 * - `worker`: the durable path's worker only.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/types.js';
import { devServerRunning, temporalReachable, workersPolling } from './durable/readiness-checks.js';
import { Readiness, type ReadinessCheck } from './health/readiness.js';
import type { DevServer } from './durable/dev-server.js';
import { RunFile } from './durable/run-file.js';
import type { DurableRequests } from './durable/requests.js';
import type { BatchService } from './batches/service.js';
import { ensureTemporalCli } from './durable/temporal-cli.js';
import { codecEndpointUrl } from './ingress/routes/codec.js';
// Whatever loads the Temporal SDK (the client link, durable requests, batches, the dev server, the worker and its
// activities, the payload codec and claim check) is imported when the durable path starts, not here: a
// fast-path-only gateway never loads @temporalio/* (~37 MB RSS; test/integration/fast-path-without-temporal.test.ts).
import type { GatewayWorkerOptions, SupervisedWorker } from './durable/worker.js';
import { FastPathExecutor, type ExecutorDeps } from './execution/fast-executor.js';
import { HealthState } from './health/health-state.js';
import { VllmMetricsScraper, vllmTargets } from './health/vllm-metrics.js';
import { embedderSource, SemanticIndex } from './routing/semantic-index.js';
import { createStreamLog, type StreamLog } from './streams/stream-log.js';
import { Ledger } from './ledger/ledger.js';
import { createApp } from './ingress/app.js';
import { createHttpServer } from './ingress/http-server.js';
import { createOperatorApp } from './ingress/operator-app.js';
import { KeyRegistry } from './auth/keys.js';
import { Admission } from './limits/admission.js';
import { createLimitStore, type LimitStore } from './limits/index.js';
import { Pacer } from './limits/pace.js';
import { markArrival } from './ingress/request-scope.js';
import { Observability, type ObservabilityOptions } from './observability/index.js';
import { createLogger } from './observability/logger.js';
import { serveMetrics } from './observability/metrics-server.js';
import { closeHttpPools } from './providers/http.js';
import { createSemanticCache, type SemanticCache } from './cache/index.js';
import { defaultEmbedderConfig, HOW_TO_GET_THE_MODEL } from './embeddings/index.js';
import { joinClusterMetrics, sharesEmbeddedDevServer } from './cluster/child.js';
import { hasTokenRules } from './decision/input-tokens.js';
import { loadTokenizer } from './decision/tokens.js';

export type Role = 'all' | 'gateway' | 'worker';

export interface RunningGateway {
  /** The HTTP base URL (absent for a worker-only process). */
  url: string;
  server?: Server;
  /** With `server.operator.port`: the operator listener's base URL (operator routes without a key). */
  operatorUrl?: string;
  temporalAddress?: string;
  temporalUiUrl?: string;
  /** A worker-only process with observability.metrics.workerPort: where its metrics are served. */
  metricsUrl?: string;
  /** Role all without a Temporal address: the embedded dev server (its `state`, restarts, pid). */
  devServer?: DevServer;
  close(): Promise<void>;
}

export interface GatewayOptions {
  role?: Role;
  logger?: Logger;
  executorDeps?: Partial<ExecutorDeps>;
  /** Overrides config.server.port (0 = any free port, as tests use). */
  port?: number;
  /** Overrides config.server.operator.port when one is configured. */
  operatorPort?: number;
  /** Overrides config.durable.temporal.address (tests point every process at one dev server). */
  temporalAddress?: string;
  worker?: GatewayWorkerOptions;
  observability?: ObservabilityOptions;
}

async function listen(
  config: GatewayConfig,
  opts: GatewayOptions,
  durable: DurableRequests | undefined,
  logger: Logger,
  cleanups: Array<() => Promise<void>>,
  obs: Observability,
  shared: Shared,
  batches?: BatchService,
  readiness?: Readiness,
) {
  const { health, cache, semantic, keys, admission, ledger, streamLog } = shared;
  const executor = new FastPathExecutor(config, { ...opts.executorDeps, health, onAttempt: obs.onAttempt(opts.executorDeps?.onAttempt) });
  const app = createApp({ config, executor, logger, durable, keys, admission, ledger, health, cache, batches, semantic, readiness, streamLog }, obs);
  // The arrival time is taken before Express sees the request, so the overhead header includes routing too.
  const server = createHttpServer(config.server, (req, res) => {
    markArrival(req);
    app(req, res);
  });
  const url = await listenOn(server, config.server.host, opts.port ?? config.server.port);
  const operator = config.server.operator;
  if (operator.port === undefined) return { server, url };
  const operatorServer = createHttpServer(config.server, createOperatorApp({ config, executor, logger, durable, keys, admission, ledger, health, cache, batches, semantic, readiness }, obs));
  const operatorUrl = await listenOn(operatorServer, operator.host, opts.operatorPort ?? operator.port);
  cleanups.push(() => closeServer(operatorServer));
  logger.info({ url: operatorUrl }, 'operator routes (/status, /metrics, /health/deployments) served without a key here');
  return { server, url, operatorUrl };
}

async function listenOn(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown === '[::]' ? '[::1]' : shown}:${bound}`;
}

/** Requests in flight get a grace period; connections a client opened but never used would otherwise hold close() for the whole keep-alive timeout. */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}

export async function startGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<RunningGateway> {
  const role = opts.role ?? 'all';
  const logger = opts.logger ?? createLogger(config.logging.level);
  const cleanups: Array<() => Promise<void>> = [];
  // One per process: the fast path and the worker (role all) read and feed the same breakers and windows.
  const health = new HealthState({ config: config.health, deployments: Object.keys(config.deployments) });
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => logger.error({ err }, 'shutdown step failed'));
    await closeHttpPools();
  };

  try {
    // With its embedded dev server this process owns its data dir: what a crashed start left running there
    // (a dev server, an orphaned gateway on the HTTP port) is stopped before anything else is opened.
    const embedsTemporal = role === 'all' && config.durable.enabled && !(opts.temporalAddress ?? config.durable.temporal.address);
    const runFile = embedsTemporal ? await RunFile.claim(join(config.dataDir ?? '.data', 'gateway.run.json'), { dbFile: config.durable.devServer.dbFile, log: logger }) : undefined;
    if (runFile) cleanups.push(async () => runFile.release());
    const obs = await Observability.create(config, opts.observability);
    cleanups.push(() => obs.close());
    // One per process, opened before the worker and the server and closed after them (cleanups run in reverse).
    const cache = config.cache?.enabled ? await createSemanticCache(config.cache, { providers: config.providers, logger }) : undefined;
    if (cache) cleanups.push(() => cache.close());
    if (cache && role !== 'all' && config.cache?.store.kind === 'embedded') {
      logger.warn(
        { dir: config.cache.store.dir },
        'the embedded cache store belongs to one process: with separate gateway and worker processes give each its own dir, or use Qdrant to share one cache',
      );
    }
    const semantic = await buildSemanticIndex(config, cache, logger, cleanups);
    warnIfLexicalOnly(config, logger);
    // Token rules may count any prompt: then the first such request should not pay the tokenizer's load.
    if (hasTokenRules(config)) loadTokenizer();
    const { keys, admission, store } = await openAccessControl(config, logger, cleanups);
    // One per process: the gateway charges fast-path requests, the worker durable work and batch lines.
    const ledger = new Ledger({ store, keys, logger, metrics: obs.metrics });
    cleanups.push(() => ledger.close());
    obs.metrics?.readHealthFrom(() => health.view());
    const streamLog = config.durable.enabled ? await openStreamLog(config, role, logger, cleanups) : undefined;
    // Every role routes (the gateway plans fast-path calls, the worker durable ones), so every role scrapes.
    const vllm = vllmTargets(config);
    if (vllm.length > 0) {
      const scraper = new VllmMetricsScraper({ targets: vllm, health, config: config.health.engine, logger });
      scraper.start();
      cleanups.push(() => scraper.stop());
    }
    let durable: DurableRequests | undefined;
    let batches: BatchService | undefined;
    const readinessChecks: ReadinessCheck[] = [];
    let devServer: DevServer | undefined;
    let address = opts.temporalAddress ?? config.durable.temporal.address;
    if (config.durable.enabled || role === 'worker') {
      if (!address) {
        if (role !== 'all') throw new Error(`role '${role}' needs durable.temporal.address (the embedded dev server runs only with role 'all')`);
        const dev = config.durable.devServer;
        const { startDevServer } = await import('./durable/dev-server.js');
        devServer = await startDevServer({
          cli: ensureTemporalCli(undefined, (m) => logger.info(m)),
          port: dev.port,
          uiPort: dev.uiPort,
          dbFile: dev.dbFile,
          namespace: config.durable.temporal.namespace,
          retentionHours: dev.retentionHours,
          uiCodecEndpoint: codecEndpointUrl(config, opts.port),
          runFile,
          log: logger,
        });
        cleanups.push(() => devServer!.stop());
        readinessChecks.push(devServerRunning(devServer));
        address = devServer.address;
        logger.info({ address, ui: devServer.uiUrl, db: dev.dbFile }, 'embedded Temporal dev server started');
      }
      const [{ payloadCodecFor }, { openClaimCheck, withClaimCheck }, { superviseWorker }, { TemporalLink, temporalTarget }] = await Promise.all([
        import('./durable/payload-codec.js'),
        import('./durable/claim-check.js'),
        import('./durable/worker.js'),
        import('./durable/connection.js'),
      ]);
      // large bodies and answers go to the claim-check store (after encryption), history holds references
      const claimCheck = openClaimCheck(config, logger);
      cleanups.push(async () => claimCheck.stop());
      const target = temporalTarget(config.durable, address, withClaimCheck(payloadCodecFor(config, { embedded: !!devServer || sharesEmbeddedDevServer(), logger }), claimCheck.codec));
      // Neither side waits for Temporal beyond one try: the fast path serves while it is unreachable, durable
      // endpoints answer 503 and the worker keeps trying in the background.
      let localWorker: SupervisedWorker | undefined;
      if (role !== 'gateway') {
        const pacer = admission && keys ? new Pacer(admission, (keyId) => keys.byId(keyId)) : undefined;
        const worker = (localWorker = superviseWorker(config, target, { logger, health, cache, semantic, ledger, pacer, streamLog, observe: obs.workerOptions(), ...opts.worker }));
        cleanups.push(() => worker.stop());
        await worker.firstAttempt;
      }
      if (role !== 'worker') {
        const [{ DurableRequests }, { BatchService }] = await Promise.all([import('./durable/requests.js'), import('./batches/service.js')]);
        const link = new TemporalLink(target, { logger });
        cleanups.push(() => link.close());
        durable = new DurableRequests(link, config, obs.tracing?.clientInterceptors(), localWorker);
        batches = new BatchService(link, config);
        readinessChecks.push(temporalReachable(link), workersPolling(link));
        await link.firstAttempt;
      }
    }
    if (cache) readinessChecks.push({ name: 'cache', run: () => cache.ping() });
    obs.temporalUiUrl = devServer?.uiUrl ?? config.durable.temporal.uiUrl;
    if (role === 'worker') {
      const port = obs.config.metrics.workerPort;
      let metricsUrl: string | undefined;
      if (obs.metrics && port !== undefined) {
        // an operator listener like server.operator's: it binds the operator host (loopback unless opened)
        const served = await serveMetrics(obs.metrics, config.server.operator.host, port, obs.config.metrics.path);
        cleanups.push(() => new Promise<void>((resolve) => served.server.close(() => resolve())));
        metricsUrl = served.url;
      }
      return { url: '', temporalAddress: address, temporalUiUrl: obs.temporalUiUrl, metricsUrl, close };
    }
    const { server, url, operatorUrl } = await listen(config, opts, durable, logger, cleanups, obs, { health, cache, semantic, keys, admission, ledger, streamLog }, batches, new Readiness(readinessChecks));
    cleanups.push(() => closeServer(server));
    if (obs.metrics) joinClusterMetrics(obs.metrics, server);
    return { url, server, operatorUrl, temporalAddress: address, temporalUiUrl: devServer?.uiUrl ?? config.durable.temporal.uiUrl, devServer, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** What the HTTP side and the worker of one process share. */
interface Shared {
  health: HealthState;
  cache?: SemanticCache;
  semantic?: SemanticIndex;
  keys?: KeyRegistry;
  admission?: Admission;
  ledger: Ledger;
  streamLog?: StreamLog;
}

/** Where live durable streams wait for their gateway (one per process); in memory it reaches only this process. */
async function openStreamLog(config: GatewayConfig, role: Role, logger: Logger, cleanups: Array<() => Promise<void>>): Promise<StreamLog> {
  const log = await createStreamLog(config.durable.streamLog);
  cleanups.push(() => log.close());
  if (role !== 'all' && config.durable.streamLog.kind === 'memory') {
    logger.warn(`role '${role}' with durable.streamLog.kind memory: durable streams arrive whole at their end (set kind: redis to share live streams between gateways and workers)`);
  }
  return log;
}

/** Gateway keys and the store behind their limits; none with `auth.mode: none`. */
async function openAccessControl(config: GatewayConfig, logger: Logger, cleanups: Array<() => Promise<void>>): Promise<Pick<Shared, 'keys' | 'admission'> & { store?: LimitStore }> {
  if (config.auth.mode === 'none') {
    logger.warn('auth.mode is none: the gateway accepts requests without an API key (every caller is tenant "default")');
    return {};
  }
  const keys = new KeyRegistry(config.auth);
  if (keys.principals().length === 0) logger.warn('auth.mode is keys but no keys are configured: every /v1 request will get a 401');
  const store = await createLimitStore(config.auth.store);
  cleanups.push(() => store.close());
  return { keys, admission: new Admission(store), store };
}

/** Without a sentence model the semantic cache and routing match words, not meaning: said once, at start. */
function warnIfLexicalOnly(config: GatewayConfig, logger: Logger): void {
  const uses: string[] = [];
  if (config.cache?.enabled && config.cache.embedder.kind === 'offline') uses.push('cache');
  for (const [alias, m] of Object.entries(config.models)) {
    const ref = m.semantic?.embedder;
    if (ref === undefined) continue;
    const e = ref === 'default' ? defaultEmbedderConfig() : ref === 'cache' ? (config.cache?.embedder ?? defaultEmbedderConfig()) : ref;
    if (e.kind === 'offline') uses.push(`models.${alias}.semantic`);
  }
  if (uses.length > 0) logger.warn({ uses, howToFix: HOW_TO_GET_THE_MODEL }, 'no embedding model: the semantic tier is lexical only (offline hashed embedder)');
}

/** Embeds the route examples of aliases with semantic routing, once, sharing the cache's embedder when configured alike. */
async function buildSemanticIndex(config: GatewayConfig, cache: SemanticCache | undefined, logger: Logger, cleanups: Array<() => Promise<void>>): Promise<SemanticIndex | undefined> {
  if (!Object.values(config.models).some((m) => m.semantic)) return undefined;
  const embedderFor = embedderSource({ providers: config.providers, ...(config.cache && { cache: { config: config.cache.embedder, embedder: cache?.embedder } }) });
  cleanups.push(async () => {
    for (const e of embedderFor.created) await e.close?.();
  });
  const index = await SemanticIndex.build(config.models, { embedderFor, logger });
  logger.info({ aliases: index.size }, 'semantic routes embedded');
  return index;
}
