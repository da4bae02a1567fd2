/**
 * Semantic routing, the I/O part: embeds every alias's route examples once (at startup) with the configured
 * embedder, keeps the normalised vectors, and classifies a request's last user message with the pure router
 * (src/decision/semantic-router.ts).
 *
 * How the paths call it:
 * - startup: `const index = await SemanticIndex.build(config.models, { embedderFor: embedderSource({ providers:
 *   config.providers, cache: { config: config.cache.embedder, embedder: cacheEmbedder } }), logger })`;
 * - fast path, before planning: `const routing = await index.classifyRequest(alias, request, signal)`; when it
 *   is defined, `toRuleMatch(routing, routing.target, routing.mode, config.deployments, aliasPool(config, alias))`
 *   is a RuleMatch to plan with, exactly like a capability rule's (and `routing.reason` goes to logs/headers);
 * - durable path: the same call inside the `route` activity (embedding is I/O; the workflow receives the plan).
 *
 * Failure never fails a request: a message the embedder cannot embed, or an alias whose examples could not be
 * embedded at startup (retried in the background at most every `retryAfterMs`, never on a request's time),
 * gets a decision without a route, which like a score below the threshold means the default target, else the
 * alias's own groups. Only the client's abort is thrown.
 */
import type { Logger } from 'pino';
import { semanticThreshold, type SemanticEmbedderRef, type SemanticRoutingConfig } from '../config/semantic-routing-schema.js';
import type { RuleTarget } from '../config/routing-rules-schema.js';
import type { ProviderConfig } from '../config/types.js';
import { routeByExamples, type RouteVectors, type SemanticDecision } from '../decision/semantic-router.js';
import { createEmbedder, type EmbedderDeps } from '../embeddings/index.js';
import { defaultEmbedderConfig, type EmbedderConfig } from '../embeddings/schema.js';
import { type Embedder, checkDimension, normalise } from '../embeddings/types.js';
import { contentText, type ChatRequest } from '../protocol/chat-request.js';

/** Embedding requests are batched: providers cap inputs per call (OpenAI: 2048). */
const BATCH = 128;
/** The start of a message says what it is about; a huge paste adds cost, not signal. */
export const MAX_ROUTED_CHARS = 4_000;

export interface SemanticRouting extends SemanticDecision {
  /** Where to send the request: the route's `use`, or the default's when no route won; absent: the alias's groups. */
  target?: RuleTarget;
  mode: 'prefer' | 'only';
  /** True when `target` is the configured default (no route won). */
  usedDefault: boolean;
}

export interface SemanticIndexDeps {
  /** The embedder for a config reference; see `embedderSource`. */
  embedderFor: (ref: SemanticEmbedderRef) => Embedder;
  logger?: Pick<Logger, 'warn' | 'info'>;
  now?: () => number;
  /** After the examples of an alias failed to embed, how long before classify tries again. */
  retryAfterMs?: number;
}

interface AliasIndex {
  cfg: SemanticRoutingConfig;
  embedder: Embedder;
  routes?: RouteVectors[];
  error?: string;
  failedAt?: number;
  building?: Promise<void>;
}

export class SemanticIndex {
  private constructor(
    private readonly aliases: Map<string, AliasIndex>,
    private readonly deps: Required<Pick<SemanticIndexDeps, 'now' | 'retryAfterMs'>> & SemanticIndexDeps,
  ) {}

  /** Embeds the examples of every alias that has `semantic`; an alias that fails is logged and retried later. */
  static async build(
    models: Readonly<Record<string, { semantic?: SemanticRoutingConfig }>>,
    deps: SemanticIndexDeps,
    signal?: AbortSignal,
  ): Promise<SemanticIndex> {
    const aliases = new Map<string, AliasIndex>();
    for (const [alias, m] of Object.entries(models)) {
      if (m.semantic) aliases.set(alias, { cfg: m.semantic, embedder: deps.embedderFor(m.semantic.embedder) });
    }
    const index = new SemanticIndex(aliases, { now: Date.now, retryAfterMs: 30_000, ...deps });
    for (const alias of aliases.keys()) await index.embedExamples(alias, signal);
    return index;
  }

  /** Aliases with semantic routing. */
  get size(): number {
    return this.aliases.size;
  }

  has(alias: string): boolean {
    return this.aliases.has(alias);
  }

  /**
   * Routes on the request's last user message; undefined when the alias has no semantic routing. `tenant` scopes
   * the embedder's memo: the text is the tenant's, and the cache's lookup of it shares the one run.
   */
  classifyRequest(alias: string, request: ChatRequest, signal?: AbortSignal, tenant?: string): Promise<SemanticRouting | undefined> {
    return this.classify(alias, lastUserText(request), signal, tenant);
  }

  async classify(alias: string, text: string, signal?: AbortSignal, tenant?: string): Promise<SemanticRouting | undefined> {
    const entry = this.aliases.get(alias);
    if (!entry) return undefined;
    const query = text.trim().slice(0, MAX_ROUTED_CHARS);
    if (query === '') return this.noRoute(entry, 'no user text to route on');
    const routes = entry.routes;
    if (!routes) {
      // Retried in the background, not on this request's time; failures are logged inside.
      if (this.deps.now() - (entry.failedAt ?? 0) >= this.deps.retryAfterMs) void this.embedExamples(alias);
      return this.noRoute(entry, `semantic routes of '${alias}' are unavailable (${entry.error ?? 'being embedded'})`);
    }

    let vector: Float32Array;
    try {
      const [v] = await entry.embedder.embed([query], signal, { scope: tenant });
      checkDimension([v!], entry.embedder.dimension, entry.embedder.id);
      vector = normalise(Float32Array.from(v!));
    } catch (err) {
      if (signal?.aborted) throw err;
      this.deps.logger?.warn({ alias, embedder: entry.embedder.id, err: messageOf(err) }, 'semantic routing: embedding the message failed');
      return this.noRoute(entry, `embedding the message failed (${messageOf(err)})`);
    }
    const decision = routeByExamples(vector, routes, { ...entry.cfg, threshold: semanticThreshold(entry.cfg, entry.embedder.id) });
    if (decision.route === undefined) return this.withDefault(entry, decision);
    const route = entry.cfg.routes.find((r) => r.name === decision.route)!;
    return { ...decision, target: route.use, mode: route.mode, usedDefault: false };
  }

  private noRoute(entry: AliasIndex, reason: string): SemanticRouting {
    return this.withDefault(entry, { score: -1, scores: {}, reason: `no semantic route: ${reason}` });
  }

  private withDefault(entry: AliasIndex, decision: SemanticDecision): SemanticRouting {
    const target = entry.cfg.default;
    return target ? { ...decision, target, mode: 'prefer', usedDefault: true, reason: `${decision.reason} → default` } : { ...decision, mode: 'prefer', usedDefault: false };
  }

  /** One build at a time per alias: concurrent first requests share it. */
  private embedExamples(alias: string, signal?: AbortSignal): Promise<void> {
    const entry = this.aliases.get(alias)!;
    entry.building ??= this.doEmbed(alias, entry, signal).finally(() => {
      entry.building = undefined;
    });
    return entry.building;
  }

  private async doEmbed(alias: string, entry: AliasIndex, signal?: AbortSignal): Promise<void> {
    const texts = entry.cfg.routes.flatMap((r) => r.examples);
    try {
      const vectors: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += BATCH) {
        const batch = await entry.embedder.embed(texts.slice(i, i + BATCH), signal);
        if (batch.length !== Math.min(BATCH, texts.length - i)) throw new Error(`${entry.embedder.id} returned ${batch.length} vectors for ${Math.min(BATCH, texts.length - i)} texts`);
        checkDimension(batch, entry.embedder.dimension, entry.embedder.id);
        // Copies, normalised again: the index must not depend on an embedder keeping its promise or its buffers.
        vectors.push(...batch.map((v) => normalise(Float32Array.from(v))));
      }
      let at = 0;
      entry.routes = entry.cfg.routes.map((r) => ({ name: r.name, vectors: vectors.slice(at, (at += r.examples.length)) }));
      entry.error = undefined;
      this.deps.logger?.info({ alias, embedder: entry.embedder.id, routes: entry.routes.length, examples: texts.length }, 'semantic routes embedded');
    } catch (err) {
      if (signal?.aborted) throw err;
      entry.error = messageOf(err);
      entry.failedAt = this.deps.now();
      this.deps.logger?.warn({ alias, embedder: entry.embedder.id, err: entry.error }, 'semantic routing: embedding the examples failed; the alias routes as if unmatched until it works');
    }
  }
}

/**
 * Resolves embedder references to instances, one per distinct config: `default` is the local model when
 * GATEWAY_EMBEDDING_MODEL_DIR names one, else the offline embedder,
 * `cache` the cache's (its instance when given, so one model serves both), an inline config its own.
 * `created` lists the instances made here: close them at shutdown (the index does not own its embedders).
 */
export function embedderSource(deps: {
  providers?: Record<string, ProviderConfig>;
  cache?: { config: EmbedderConfig; embedder?: Embedder };
  create?: (config: EmbedderConfig, deps: EmbedderDeps) => Embedder;
  /** Where `default` looks for GATEWAY_EMBEDDING_MODEL_DIR; default process.env. */
  env?: NodeJS.ProcessEnv;
}): ((ref: SemanticEmbedderRef) => Embedder) & { created: Embedder[] } {
  const made = new Map<string, Embedder>();
  const created: Embedder[] = [];
  const create = deps.create ?? createEmbedder;
  const cacheKey = deps.cache ? JSON.stringify(deps.cache.config) : undefined;
  const source = (ref: SemanticEmbedderRef): Embedder => {
    const fallback = defaultEmbedderConfig(deps.env);
    const config = ref === 'default' ? fallback : ref === 'cache' ? (deps.cache?.config ?? fallback) : ref;
    const key = JSON.stringify(config);
    if (key === cacheKey && deps.cache?.embedder) return deps.cache.embedder;
    let e = made.get(key);
    if (!e) {
      e = create(config, { providers: deps.providers });
      made.set(key, e);
      created.push(e);
    }
    return e;
  };
  return Object.assign(source, { created });
}

/** The text semantic routing looks at: the last user message's text parts. */
export function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!;
    if (m.role === 'user') return contentText(m.content);
  }
  return '';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
