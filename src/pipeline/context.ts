/** What the pipeline and every route handler need, built once at start. */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { FastPathExecutor } from '../execution/fast-executor.js';
import type { DurableRequests } from '../durable/requests.js';
import type { KeyRegistry } from '../auth/keys.js';
import type { Admission } from '../limits/admission.js';
import type { Ledger } from '../ledger/ledger.js';
import type { HealthState } from '../health/health-state.js';
import type { SemanticIndex } from '../routing/semantic-index.js';
import type { SemanticCache } from '../cache/semantic-cache.js';
import type { BatchService } from '../batches/service.js';
import type { Readiness } from '../health/readiness.js';
import type { StreamLog } from '../streams/stream-log.js';

export interface PipelineContext {
  config: GatewayConfig;
  executor: FastPathExecutor;
  logger: Logger;
  /** Absent when the durable path is disabled, or on a worker-only process. */
  durable?: DurableRequests;
  /** Absent with `auth.mode: none`. */
  keys?: KeyRegistry;
  /** Per-key limits; absent with `auth.mode: none`. */
  admission?: Admission;
  /** Where requests are charged, once each (also without keys: then logged and metered only). */
  ledger?: Ledger;
  /** Live breakers, load and latency per deployment (what routing reads). */
  health?: HealthState;
  /** The semantic cache; absent unless `cache.enabled`. */
  cache?: SemanticCache;
  /** Files and batches (with their file store); absent without the durable path. */
  batches?: BatchService;
  /** Aliases with semantic routing: their example utterances, embedded. */
  semantic?: SemanticIndex;
  /** What `/readyz` checks (Temporal, workers, cache store); absent: always ready. */
  readiness?: Readiness;
  /** Live durable streams (src/streams); absent without the durable path. */
  streamLog?: StreamLog;
}
