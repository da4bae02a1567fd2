/**
 * The facts a request's journey leaves behind, filled by the pipeline's stages as they happen and read once
 * when the exchange is over (the request log, metrics and tracing build their record from it). Plain data.
 */
import type { Attempt } from '../decision/attempt.js';
import type { CacheResult, Usage } from '../observability/request-record.js';

export interface Trail {
  alias?: string;
  stream?: boolean;
  attempts?: Attempt[];
  catchAll?: boolean;
  /** The workflow running a durable request (its charge id on the worker), known once it has started. */
  durableId?: string;
  /** What the request is charged under, when the pipeline charges it (fast path). */
  chargeId?: string;
  /** The usage the answer reported. */
  usage?: Usage;
  /** Which routing strategy placed the request, and the rule that matched. */
  route?: { strategy: string; rule?: string };
  /** What the semantic cache did for this request. */
  cache?: CacheResult;
  /** The similarity of the cached question served (or refused by the verifier), and the verifier's verdict. */
  cacheSimilarity?: number;
  cacheVerdict?: string;
  /** A committed stream ended with an error event instead of its clean end: the answer is incomplete. */
  interrupted?: { kind: string };
  /** Resolves once the request is settled (limits corrected, charged): its record is written after that. */
  settled?: Promise<void>;
}
