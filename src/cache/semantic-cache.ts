/**
 * The semantic cache: an exact tier (the whole canonical request hashed) and a semantic tier (the user text
 * embedded and compared within a partition of everything else), over any VectorStore and any Embedder.
 * It never fails a request: a broken embedder is logged and counts as a miss; a store that fails (unreachable,
 * timing out) is logged, the request bypasses the cache (`ticket.unavailable`), and for `storeBackoffMs` after
 * a failure no request tries the store at all, so an outage costs one timeout, not one per request. The first
 * request after the back-off tries again: the cache comes back by itself when the store does.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { cacheThresholds, type CacheConfig } from '../config/cache-schema.js';
import type { Embedder } from '../embeddings/types.js';
import type { ChatRequest } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import { guardOf } from './guard.js';
import { bypassReason, refuseToStore, type CacheControl, type StoreFacts } from './policy.js';
import { requestKey, type RequestKey } from './request-key.js';
import { factsOf, verifyFacts, type QuestionFacts, type Verdict } from './verify.js';
import type { SearchHit, VectorStore } from './vector-store.js';
import { ownValue } from '../util/own-value.js';

export interface CachedAnswer {
  completion: ChatCompletion;
  tenant: string;
  alias: string;
  /** Numbers and negation of the question (see guard.ts); absent for exact-only entries. */
  guard?: string;
  /** The embedded text, for the verifier (verify.ts); entries stored before it have only the guard. */
  question?: string;
}

/** One request's view of the cache, computed once and used for lookup, catch-all and store. */
export interface CacheTicket {
  tenant: string;
  alias: string;
  control: CacheControl;
  key: RequestKey;
  /** Set when the request must not touch the cache at all. */
  bypass?: string;
  /** The embedded text's vector, once computed. */
  vector?: Promise<Float32Array | undefined>;
  /** Set when the store failed (or is backing off after a failure) during this request's lookup. */
  unavailable?: boolean;
  /** The best candidate the verifier turned down, when no candidate passed. */
  refused?: { verdict: Verdict; similarity: number };
}

export interface CacheHit {
  completion: ChatCompletion;
  similarity: number;
  tier: 'exact' | 'semantic';
  stale: boolean;
  /** `verified` for every served hit (an exact hit is the same question). */
  verdict: Verdict;
}

export interface SemanticCacheDeps {
  logger: Logger;
  now?: () => number;
}

export class SemanticCache {
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly timer: NodeJS.Timeout;
  /** A fixed unit vector for entries only the exact tier can find (Qdrant needs some vector). */
  private readonly placeholder: Float32Array;
  /** Until when (epoch ms) the store is left alone after a failure. */
  private storeDownUntil = 0;
  /** The config's thresholds, else the calibrated defaults for this embedder (see cache-schema.ts). */
  private readonly thresholds: { threshold: number; catchAllThreshold: number };

  constructor(
    readonly config: CacheConfig,
    readonly vectors: VectorStore<CachedAnswer>,
    readonly embedder: Embedder,
    deps: SemanticCacheDeps,
  ) {
    if (vectors.dimension !== embedder.dimension) {
      throw new Error(`cache: the store holds vectors of dimension ${vectors.dimension} but the embedder ${embedder.id} makes ${embedder.dimension}`);
    }
    this.thresholds = cacheThresholds(config, embedder.id);
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger.child({ component: 'cache' });
    this.placeholder = new Float32Array(vectors.dimension);
    this.placeholder[0] = 1;
    this.timer = setInterval(() => void this.purge(), config.purgeIntervalSeconds * 1000);
    this.timer.unref();
  }

  ticket(request: ChatRequest, tenant: string, control: CacheControl): CacheTicket {
    const key = requestKey(request, { tenant, alias: request.model, embedderId: this.embedder.id, embed: this.config.embed });
    if (key.text !== undefined && key.text.length > this.config.maxEmbedChars) delete key.partition;
    return { tenant, alias: request.model, control, key, bypass: bypassReason(request, this.config.maxTemperature) };
  }

  /** A fresh answer for the ticket's request, if the cache has one above the alias's threshold. */
  async lookup(t: CacheTicket, signal?: AbortSignal): Promise<CacheHit | undefined> {
    if (t.bypass || t.control.noCache) return undefined;
    if (this.backingOff(t)) return undefined;
    const threshold = ownValue(this.config.thresholds, t.alias) ?? this.thresholds.threshold;
    return this.find(t, this.now(), threshold, false, signal);
  }

  /** For the catch-all: a looser threshold, entries past their TTL (within staleSeconds) too, an exact scan. */
  async lookupStale(t: CacheTicket, signal?: AbortSignal): Promise<CacheHit | undefined> {
    if (t.bypass || t.control.noCache) return undefined;
    if (this.backingOff(t)) return undefined;
    const hit = await this.find(t, this.now() - this.config.staleSeconds * 1000, this.thresholds.catchAllThreshold, true, signal);
    return hit && { ...hit, stale: true };
  }

  /** Keeps an answer when the rules allow; returns why not otherwise. */
  async store(t: CacheTicket, completion: ChatCompletion, facts: StoreFacts = {}): Promise<string | undefined> {
    if (t.bypass) return t.bypass;
    if (t.control.noStore) return 'no-store';
    const refused = refuseToStore(completion, facts, this.config.storeToolCalls);
    if (refused) return refused;
    if (this.backingOff(t)) return 'store unavailable';
    try {
      const vector = t.key.partition ? await this.vectorOf(t) : undefined;
      const now = this.now();
      const payload: CachedAnswer = { completion, tenant: t.tenant, alias: t.alias, guard: vector ? guardOf(t.key.text!) : undefined, question: vector ? t.key.text : undefined };
      // Read by the verifier now, once, rather than by the first lookup that meets this entry.
      if (payload.question !== undefined) factsOfEntry(payload, payload.question);
      await this.vectors.put({
        id: t.key.exact,
        // Without a vector (an agent turn, an embedder failure) the entry is for the exact tier only.
        partition: vector ? t.key.partition! : `exact:${t.key.exact}`,
        tenant: t.tenant,
        vector: vector ?? this.placeholder,
        createdAt: now,
        expiresAt: now + (t.control.ttlSeconds ?? this.config.ttlSeconds) * 1000,
        payload,
      });
      this.storeUp();
      return undefined;
    } catch (err) {
      this.storeFailed(err, 'storing an answer in the cache failed');
      return 'store failed';
    }
  }

  async purge(): Promise<void> {
    if (this.now() < this.storeDownUntil) return;
    try {
      await this.vectors.purgeExpired(this.now() - this.config.staleSeconds * 1000);
    } catch (err) {
      this.logger.warn({ err }, 'purging expired cache entries failed');
    }
  }

  /** Throws when the store cannot serve (for readiness checks); a success ends a back-off early. */
  async ping(): Promise<void> {
    await this.vectors.ping();
    this.storeUp();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.vectors.close();
    await this.embedder.close?.();
  }

  private async find(t: CacheTicket, expiresAfter: number, threshold: number, exhaustive: boolean, signal?: AbortSignal): Promise<CacheHit | undefined> {
    try {
      const hit = await this.search(t, expiresAfter, threshold, exhaustive, signal);
      this.storeUp();
      return hit;
    } catch (err) {
      if (signal?.aborted) return undefined;
      t.unavailable = true;
      this.storeFailed(err, 'cache lookup failed; the request bypasses the cache');
      return undefined;
    }
  }

  private async search(t: CacheTicket, expiresAfter: number, threshold: number, exhaustive: boolean, signal?: AbortSignal): Promise<CacheHit | undefined> {
    // The embedding runs on the model's thread while the exact tier is read.
    const embedding = t.key.partition && threshold <= 1 ? this.vectorOf(t, signal) : undefined;
    if (this.config.exact) {
      const e = await this.vectors.get(t.key.exact, expiresAfter);
      if (e && e.payload.tenant === t.tenant) return { completion: served(e.payload.completion), similarity: 1, tier: 'exact', stale: false, verdict: 'verified' };
    }
    if (!embedding) return undefined;
    const vector = await embedding;
    if (!vector) return undefined;
    // A few candidates above the threshold: the most similar may be a near miss ("… 8 km …") and the next the answer.
    const hits: SearchHit<CachedAnswer>[] = await this.vectors.search({ partition: t.key.partition!, tenant: t.tenant, vector, minScore: threshold, expiresAfter, limit: CANDIDATES, exhaustive });
    const asked = new Asked(t.key.text!);
    for (const h of hits) {
      if (h.entry.payload.tenant !== t.tenant) continue;
      const verdict = asked.verdictOn(h.entry.payload);
      if (verdict === 'verified') return { completion: served(h.entry.payload.completion), similarity: h.score, tier: 'semantic', stale: false, verdict };
      t.refused ??= { verdict, similarity: h.score };
    }
    return undefined;
  }

  /**
   * True (and the ticket marked) while the store is left alone after a failure. When the back-off ends, this
   * request alone tries the store (the window is extended for the others), so a hung store costs one timeout
   * per back-off, not one per concurrent request.
   */
  private backingOff(t: CacheTicket): boolean {
    if (this.storeDownUntil === 0) return false;
    const now = this.now();
    if (now >= this.storeDownUntil) {
      this.storeDownUntil = now + this.config.storeBackoffMs;
      return false;
    }
    t.unavailable = true;
    return true;
  }

  private storeFailed(err: unknown, message: string): void {
    // One log line per outage, not one per request.
    if (this.storeDownUntil === 0) this.logger.warn({ err, backoffMs: this.config.storeBackoffMs }, message);
    this.storeDownUntil = this.now() + this.config.storeBackoffMs;
  }

  private storeUp(): void {
    if (this.storeDownUntil === 0) return;
    this.storeDownUntil = 0;
    this.logger.info('the cache store answers again');
  }

  /**
   * Starts embedding the ticket's text when its lookup will need it, so the embedding runs while the request is
   * routed; the lookup then waits for this run instead of starting one.
   */
  prefetch(t: CacheTicket, signal?: AbortSignal): void {
    if (t.bypass || t.control.noCache || !t.key.partition || this.storeDownUntil > this.now()) return;
    if ((ownValue(this.config.thresholds, t.alias) ?? this.thresholds.threshold) > 1) return;
    void this.vectorOf(t, signal);
  }

  /** Embeds the ticket's text once, whether the lookup or the store asks first; within the tenant's scope. */
  private vectorOf(t: CacheTicket, signal?: AbortSignal): Promise<Float32Array | undefined> {
    t.vector ??= this.embedder.embed([t.key.text!], signal, { scope: t.tenant }).then(
      ([v]) => v,
      (err: unknown) => {
        if (!signal?.aborted) this.logger.warn({ err }, 'embedding for the cache failed');
        return undefined;
      },
    );
    return t.vector;
  }
}

/** How many candidates above the threshold the verifier may look at before the lookup counts as a miss. */
const CANDIDATES = 5;

/**
 * The verifier's facts of recently stored or met cached questions, keyed by the entry's payload object (the
 * embedded store hands out the same one on every search; Qdrant a new one, which only misses here), so a lookup
 * does not read again the questions that came up as candidates before. Bounded: a few KB each, and a store may
 * hold 200,000 entries.
 */
const FACTS_REMEMBERED = 4096;
const entryFacts = new Map<CachedAnswer, QuestionFacts>();

function factsOfEntry(entry: CachedAnswer, question: string): QuestionFacts {
  let f = entryFacts.get(entry);
  if (f) return f;
  entryFacts.set(entry, (f = factsOf(question)));
  if (entryFacts.size > FACTS_REMEMBERED) entryFacts.delete(entryFacts.keys().next().value!);
  return f;
}

/** The asked question, read once per lookup (only if a candidate comes up) and checked against each candidate. */
class Asked {
  private facts?: QuestionFacts;
  private guard?: string;

  constructor(readonly text: string) {}

  /** Entries stored before the verifier carry only the guard (numbers and negation): they are checked by that. */
  verdictOn(entry: CachedAnswer): Verdict {
    if (entry.question !== undefined) return verifyFacts((this.facts ??= factsOf(this.text)), factsOfEntry(entry, entry.question)).verdict;
    return entry.guard === (this.guard ??= guardOf(this.text)) ? 'verified' : 'number_mismatch';
  }
}

/** The stored answer under a new id, so two clients never share one completion id. */
function served(c: ChatCompletion): ChatCompletion {
  return { ...c, id: `chatcmpl-cache-${randomUUID().replaceAll('-', '').slice(0, 24)}` };
}
