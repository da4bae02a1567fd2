/**
 * The zod schema of gateway.yaml. Cross-references (a deployment's provider, an alias's deployments and
 * downgrade) are checked here too, so a bad config names the exact path of the problem before anything starts.
 */
import { z } from 'zod';
import { ERROR_KINDS, type ErrorKind } from '../providers/errors.js';
import { COMPATIBLE_PRESETS, PROVIDER_TYPES } from './presets.js';
import { CAPABILITIES, type Capability } from './capabilities.js';
import { batchesSchema } from './batches-schema.js';
import { cacheSchema } from './cache-schema.js';
import { healthSchema } from './health-schema.js';
import { gatewayRegionSchema, routingPolicySchema } from './balance-schema.js';
import { cascadeSchema, checkCascadeReferences } from './cascade-schema.js';
import { checkSemanticReferences, semanticRoutingSchema } from './semantic-routing-schema.js';
import { observabilitySchema } from './observability-schema.js';
import { operatorSchema, serverConnectionFields } from './server-schema.js';
import { capabilityRulesSchema, checkRuleReferences } from './routing-rules-schema.js';

const timeouts = z.strictObject({
  connectMs: z.number().int().positive().default(5_000),
  firstByteMs: z.number().int().positive().default(60_000),
  idleMs: z.number().int().positive().default(30_000),
  totalMs: z.number().int().positive().default(600_000),
});

const mockBehaviour = z.strictObject({
  /** Delay before the first byte, in ms. */
  latencyMs: z.number().int().min(0).default(0),
  /** Delay between streamed tokens, in ms. */
  tokenDelayMs: z.number().int().min(0).default(0),
  /**
   * What successive calls do, cycling: `ok`, an HTTP status (`429`, `500`, `503`...), `timeout` or `cut`
   * (a stream that ends after its first content chunk). Lets a newcomer watch retries and fallbacks happen.
   */
  pattern: z
    .array(z.union([z.enum(['ok', 'timeout', 'cut']), z.number().int().min(400).max(599)]))
    .min(1)
    .default(['ok']),
  /** Retry-After (seconds) sent with scripted 429s. */
  retryAfterSeconds: z.number().min(0).optional(),
  /** Fixed answer; by default the mock answers deterministically from the last user message. */
  reply: z.string().optional(),
});

export const providerSchema = z.strictObject({
  type: z.enum(PROVIDER_TYPES),
  preset: z.enum(COMPATIBLE_PRESETS).optional(),
  baseUrl: z.url({ protocol: /^(https?|mock)$/ }).optional(),
  apiKey: z.string().min(1).optional(),
  /** Azure OpenAI's api-version query parameter. */
  apiVersion: z.string().min(1).optional(),
  /** Anthropic's anthropic-version header. */
  anthropicVersion: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  timeouts: timeouts.prefault({}),
  mock: mockBehaviour.optional(),
});

export { CAPABILITIES, type Capability };

export const deploymentSchema = z.strictObject({
  provider: z.string().min(1),
  /** The model name upstream (for Azure: the deployment name in the URL). */
  model: z.string().min(1),
  /** 1 = strongest; larger numbers are smaller, cheaper models. */
  tier: z.number().int().min(1).default(1),
  price: z
    .strictObject({ inputPerMTok: z.number().min(0).default(0), outputPerMTok: z.number().min(0).default(0) })
    .prefault({}),
  contextWindow: z.number().int().positive().default(128_000),
  capabilities: z.array(z.enum(CAPABILITIES)).default(['tools', 'vision', 'json_schema', 'streaming']),
  weight: z.number().positive().default(1),
  region: z.string().min(1).optional(),
  engine: z.enum(['vllm', 'ollama', 'tgi', 'other']).optional(),
  /** vLLM: where its Prometheus metrics are (default: the provider's base URL without /v1, plus /metrics). */
  metricsUrl: z.url({ protocol: /^https?$/ }).optional(),
});

const groupMember = z.union([
  z.string().min(1),
  z.strictObject({ deployment: z.string().min(1), weight: z.number().positive().optional() }),
]);

const errorKind = z.enum(ERROR_KINDS as unknown as [ErrorKind, ...ErrorKind[]]);

/**
 * The fallback policy as written in the file: every field optional. Built-in defaults, then `defaults.fallback`,
 * then the alias's own block are merged at load, so an alias overrides only what it names.
 */
export const fallbackPolicySchema = z.strictObject({
  /** Calls to one deployment before moving on (1 = no same-deployment retry). */
  attemptsPerDeployment: z.number().int().min(1).max(10).optional(),
  backoff: z.strictObject({ baseMs: z.number().int().min(0).optional(), capMs: z.number().int().min(0).optional() }).optional(),
  /** Error kinds retried on the same deployment. Anything else moves on (or, for 4xx kinds, returns). */
  retryOn: z.array(errorKind).optional(),
  /** A Retry-After longer than this is not waited for: the chain moves to the next deployment instead. */
  maxRetryAfterMs: z.number().int().min(0).optional(),
  catchAll: z
    .strictObject({
      /** Answered when every deployment failed. Without it the client gets a 503 "service busy". */
      presetAnswer: z.string().min(1).optional(),
    })
    .optional(),
});
export type FallbackPolicyInput = z.infer<typeof fallbackPolicySchema>;

export interface FallbackPolicy {
  attemptsPerDeployment: number;
  backoff: { baseMs: number; capMs: number };
  retryOn: ErrorKind[];
  maxRetryAfterMs: number;
  catchAll: { presetAnswer?: string };
}

export const BUILTIN_FALLBACK: FallbackPolicy = {
  attemptsPerDeployment: 2,
  backoff: { baseMs: 250, capMs: 4_000 },
  retryOn: ['rate_limited', 'overloaded', 'timeout', 'connection', 'server'],
  maxRetryAfterMs: 10_000,
  catchAll: {},
};


export const aliasSchema = z.strictObject({
  description: z.string().optional(),
  /** Failover order: each group is tried in turn; inside a group, deployments are ordered by weight. */
  groups: z.array(z.strictObject({ deployments: z.array(groupMember).min(1) })).min(1).optional(),
  /** Instead of groups: try cheaper aliases first and escalate when evaluators reject the answer (cascade-schema.ts). */
  cascade: cascadeSchema.optional(),
  /** Routes described by example utterances, matched by embedding similarity (semantic-routing-schema.ts). */
  semantic: semanticRoutingSchema.optional(),
  /** Another alias tried after every group here failed: a smaller model that may still answer. */
  downgrade: z.string().min(1).optional(),
  fallback: fallbackPolicySchema.optional(),
  /** Capability rules: requests sent to other deployments by size, task tags or needs (routing-rules-schema.ts). */
  rules: capabilityRulesSchema.default([]),
  /** How deployments inside a group are ordered: weighted, least-loaded or latency (balance-schema.ts). */
  routing: routingPolicySchema.optional(),
  /**
   * Hedging (fast path): when the first call has not answered within `afterMs` (default: the deployment's
   * P95 time to first token), the next deployment is started too and the first to answer wins.
   */
  hedge: z.strictObject({ afterMs: z.number().int().min(0).optional(), minDelayMs: z.number().int().min(0).default(20) }).optional(),
  /**
   * Request fields sent upstream besides the canonical ones each provider knows; `store`, `service_tier`,
   * `metadata` and `user` act on the operator's provider account and go only when listed (providers/upstream-fields.ts).
   */
  passthrough: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a top-level request field name')
        .refine((f) => !['__proto__', 'constructor', 'prototype'].includes(f), 'is not a request field'),
    )
    .max(64)
    .optional(),
});

/**
 * The durable path. Without `temporal.address` the gateway starts its own Temporal dev server (file-backed,
 * so workflows survive a restart); with it, it connects to that cluster.
 */
export const durableSchema = z.strictObject({
  enabled: z.boolean().default(true),
  temporal: z
    .strictObject({
      address: z.string().min(1).optional(),
      namespace: z.string().min(1).default('default'),
      taskQueue: z.string().min(1).default('llm-gateway'),
      apiKey: z.string().min(1).optional(),
      tls: z
        .union([
          z.boolean(),
          z.strictObject({ serverName: z.string().optional(), caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() }),
        ])
        .optional(),
      /** Base URL of the Temporal Web UI, for links (the dev server's own UI when embedded). */
      uiUrl: z.string().optional(),
    })
    .prefault({}),
  devServer: z
    .strictObject({
      port: z.number().int().min(0).max(65535).default(7233),
      uiPort: z.number().int().min(0).max(65535).default(8233),
      /** SQLite file; a relative path is inside `dataDir`. */
      dbFile: z.string().min(1).default('temporal.db'),
      /** How long closed workflows (answered durable requests, finished batches) are kept; set at every start. */
      retentionHours: z.number().positive().max(24 * 3650).default(24),
    })
    .prefault({}),
  /** A provider call that sends no heartbeat for this long is presumed dead (its worker crashed) and retried. */
  heartbeatTimeoutMs: z.number().int().min(1000).default(10_000),
  /** Upper bound of one provider-call attempt, worker restarts included. */
  attemptTimeoutMs: z.number().int().min(1000).default(600_000),
  /**
   * Payloads (prompts, answers) are encrypted with GATEWAY_PAYLOAD_KEYS, or with a key generated into the data
   * dir for the embedded dev server. Against a cluster without the variable: `required` refuses to start,
   * `optional` warns and stores plaintext.
   */
  payloadEncryption: z.enum(['required', 'optional']).default('optional'),
  /**
   * Live durable streams (src/streams): where provider chunks wait for the gateway that forwards them. `memory`
   * for one process (role `all`), `redis` when gateways and workers are separate processes. It holds answer
   * text outside Temporal, in plaintext: bounded per stream and by time.
   */
  streamLog: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('memory'), retentionSeconds: z.number().int().min(1).default(600), maxEvents: z.number().int().min(16).default(20_000) }),
      z.strictObject({
        kind: z.literal('redis'),
        url: z.string().min(1),
        prefix: z.string().optional(),
        retentionSeconds: z.number().int().min(1).default(600),
        maxEvents: z.number().int().min(16).default(20_000),
      }),
    ])
    .default({ kind: 'memory', retentionSeconds: 600, maxEvents: 20_000 }),
  /**
   * The claim check (src/durable/claim-check.ts): payloads above `thresholdBytes` (after encryption) are kept in
   * a blob store and history holds a reference, so a 4 MB body or answer stays far from Temporal's ~2 MB
   * payload limit. `local`: a directory in the data dir; `shared`: a directory every gateway and worker mounts.
   */
  claimCheck: z
    .strictObject({
      thresholdBytes: z.number().int().min(1).max(1024 * 1024).default(64 * 1024),
      store: z
        .discriminatedUnion('kind', [
          z.strictObject({ kind: z.literal('local'), dir: z.string().min(1).optional() }),
          z.strictObject({ kind: z.literal('shared'), dir: z.string().min(1) }),
        ])
        .default({ kind: 'local' }),
      /** Blobs neither written nor read for this long are deleted: at least the longest run plus the namespace retention. */
      retentionHours: z.number().positive().default(168),
    })
    .prefault({}),
});

const keyLimits = z.strictObject({
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
  concurrent: z.number().int().positive().optional(),
  dailyBudgetUsd: z.number().positive().optional(),
  monthlyBudgetUsd: z.number().positive().optional(),
});

export const apiKeySchema = z.strictObject({
  /** A name for the key in logs and admin views (never the key itself). */
  id: z.string().min(1).max(64),
  /** `sha256:<hex>` of the key, as `npm run keys -- new` prints it: the key itself is never stored. */
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits> (see `npm run keys -- new`)'),
  tenant: z.string().min(1).max(64).regex(/^[\w.-]+$/, 'letters, digits, dot, dash, underscore'),
  /** Model aliases this key may use; all when absent. */
  models: z.array(z.string().min(1)).optional(),
  limits: keyLimits.prefault({}),
});

export const authSchema = z.strictObject({
  /** `keys` (the default) requires a gateway key on every /v1 route; `none` must be chosen explicitly. */
  mode: z.enum(['keys', 'none']).default('keys'),
  keys: z.array(apiKeySchema).default([]),
  /** A YAML or JSON file holding more keys in the same form (a list, or `{ keys: [...] }`). */
  keysFile: z.string().min(1).optional(),
  /** `sha256:<hex>` of the admin key, for /admin routes. */
  adminKeyHash: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
  /** Where rate-limit and budget state lives: in memory (one instance) or Redis (several instances). */
  store: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('memory') }),
      z.strictObject({ kind: z.literal('redis'), url: z.string().min(1), prefix: z.string().optional() }),
    ])
    .default({ kind: 'memory' }),
});

export const configSchema = z
  .strictObject({
    /**
     * Where state lives (the dev server's db, the embedded cache, batch files); relative to the config file's
     * directory. `--data-dir` / GATEWAY_DATA_DIR override it.
     */
    dataDir: z.string().min(1).default('.data'),
    server: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        bodyLimit: z.string().default('4mb'),
        /** JSON bodies nesting deeper than this (objects and arrays) are refused with 400 before they are parsed. */
        maxJsonDepth: z.number().int().min(8).max(1024).default(64),
        /** HTTP processes sharing the port (node:cluster); `auto`: one per core. Above 1 needs shared limits (src/cluster/). */
        processes: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
        /** Where this gateway runs; deployments in the same `region` are preferred. */
        gatewayRegion: gatewayRegionSchema,
        /** Where the operator routes are served and who may read them (server-schema.ts). */
        operator: operatorSchema.prefault({}),
        ...serverConnectionFields,
      })
      .prefault({}),
    /** `bodies: true` puts prompts and answers in the request log records; off by default (they may hold personal data). */
    logging: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'), bodies: z.boolean().default(false) }).prefault({}),
    /** Metrics, tracing and the status page (observability-schema.ts). */
    observability: observabilitySchema.prefault({}),
    durable: durableSchema.prefault({}),
    auth: authSchema.prefault({}),
    providers: z.record(z.string().min(1), providerSchema),
    deployments: z.record(z.string().min(1), deploymentSchema),
    models: z.record(z.string().min(1), aliasSchema),
    defaults: z.strictObject({ fallback: fallbackPolicySchema.optional() }).prefault({}),
    /** Circuit breakers and latency windows (health-schema.ts). */
    health: healthSchema.prefault({}),
    /** The Batch API: file store, concurrency, chunking (batches-schema.ts). */
    batches: batchesSchema.prefault({}),
    /** The semantic cache (cache-schema.ts). */
    cache: cacheSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const ids = new Set<string>();
    cfg.auth.keys.forEach((k, i) => {
      if (ids.has(k.id)) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'id'], message: `duplicate key id '${k.id}'` });
      ids.add(k.id);
      k.models?.forEach((m, j) => {
        if (!cfg.models[m]) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'models', j], message: `unknown model alias '${m}'` });
      });
    });
    for (const [name, p] of Object.entries(cfg.providers)) {
      if (p.type === 'openai-compatible' && !p.preset && !p.baseUrl) {
        ctx.addIssue({ code: 'custom', path: ['providers', name, 'baseUrl'], message: 'required for openai-compatible without a preset' });
      }
      if (p.type !== 'openai-compatible' && p.preset) {
        ctx.addIssue({ code: 'custom', path: ['providers', name, 'preset'], message: `presets apply only to type openai-compatible, not ${p.type}` });
      }
      if (p.type === 'azure-openai' && !p.baseUrl) {
        ctx.addIssue({ code: 'custom', path: ['providers', name, 'baseUrl'], message: 'required for azure-openai (https://<resource>.openai.azure.com)' });
      }
    }
    for (const [name, d] of Object.entries(cfg.deployments)) {
      if (!cfg.providers[d.provider]) {
        ctx.addIssue({ code: 'custom', path: ['deployments', name, 'provider'], message: `unknown provider '${d.provider}'` });
      }
    }
    for (const [alias, a] of Object.entries(cfg.models)) {
      if (!a.groups === !a.cascade) {
        ctx.addIssue({ code: 'custom', path: ['models', alias], message: 'give either groups (deployments) or a cascade (of aliases), not both' });
      }
      if (a.cascade) for (const issue of checkCascadeReferences(alias, a.cascade, cfg)) ctx.addIssue({ code: 'custom', ...issue });
      if (a.semantic) for (const issue of checkSemanticReferences(alias, a.semantic, cfg)) ctx.addIssue({ code: 'custom', ...issue });
      (a.groups ?? []).forEach((g, gi) =>
        g.deployments.forEach((m, mi) => {
          const dep = typeof m === 'string' ? m : m.deployment;
          if (!cfg.deployments[dep]) {
            ctx.addIssue({
              code: 'custom',
              path: ['models', alias, 'groups', gi, 'deployments', mi],
              message: `unknown deployment '${dep}'`,
            });
          }
        }),
      );
      for (const issue of checkRuleReferences(alias, a.rules, cfg)) ctx.addIssue({ code: 'custom', ...issue });
      if (a.downgrade !== undefined) {
        if (!cfg.models[a.downgrade]) {
          ctx.addIssue({ code: 'custom', path: ['models', alias, 'downgrade'], message: `unknown model alias '${a.downgrade}'` });
        } else if (downgradeCycles(cfg.models, alias)) {
          ctx.addIssue({ code: 'custom', path: ['models', alias, 'downgrade'], message: 'downgrade chain loops back to itself' });
        }
      }
    }
  });

function downgradeCycles(models: Record<string, { downgrade?: string }>, start: string): boolean {
  const seen = new Set([start]);
  let next = models[start]?.downgrade;
  while (next !== undefined) {
    if (seen.has(next)) return true;
    seen.add(next);
    next = models[next]?.downgrade;
  }
  return false;
}

export type RawConfig = z.infer<typeof configSchema>;
