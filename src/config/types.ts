/**
 * The resolved configuration the rest of the gateway reads. RoutingConfig is the secret-free part the
 * decision layer (and so the durable workflow) may see; provider keys live only in ProviderConfig.
 */
import type { CompatiblePreset, ProviderType, WireQuirks } from './presets.js';
import type { ServerSettings } from './server-schema.js';
import type { Capability, FallbackPolicy, apiKeySchema, authSchema, durableSchema } from './schema.js';
import type { z } from 'zod';
import type { CapabilityRule } from './routing-rules-schema.js';
import type { HealthConfig } from './health-schema.js';
import type { RoutingPolicy } from './balance-schema.js';
import type { CascadeConfig } from './cascade-schema.js';
import type { SemanticRoutingConfig } from './semantic-routing-schema.js';
import type { CacheConfig } from './cache-schema.js';
import type { BatchesConfig } from './batches-schema.js';
import type { ObservabilityConfig } from './observability-schema.js';

export type DurableConfig = z.infer<typeof durableSchema>;
export type AuthConfig = z.infer<typeof authSchema>;
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;
import type { Timeouts } from '../providers/http.js';

export interface MockBehaviour {
  latencyMs: number;
  tokenDelayMs: number;
  pattern: Array<'ok' | 'timeout' | 'cut' | number>;
  retryAfterSeconds?: number;
  reply?: string;
}

export interface ProviderConfig {
  name: string;
  type: ProviderType;
  preset?: CompatiblePreset;
  baseUrl: string;
  apiKey?: string;
  apiVersion?: string;
  anthropicVersion?: string;
  headers: Record<string, string>;
  timeouts: Timeouts;
  quirks: WireQuirks;
  mock?: MockBehaviour;
}

export interface DeploymentConfig {
  name: string;
  provider: string;
  providerType: ProviderType;
  model: string;
  tier: number;
  price: { inputPerMTok: number; outputPerMTok: number };
  contextWindow: number;
  capabilities: Capability[];
  weight: number;
  region?: string;
  engine?: string;
  metricsUrl?: string;
}

export interface GroupMember {
  deployment: string;
  weight: number;
}

export interface AliasConfig {
  name: string;
  description?: string;
  groups: GroupMember[][];
  downgrade?: string;
  fallback: FallbackPolicy;
  rules: CapabilityRule[];
  hedge?: { afterMs?: number; minDelayMs: number };
  routing?: RoutingPolicy;
  /** A cascade alias has no groups of its own: its stages are other aliases. */
  cascade?: CascadeConfig;
  semantic?: SemanticRoutingConfig;
  /** Request fields this alias's deployments receive besides the canonical ones (providers/upstream-fields.ts). */
  passthrough?: string[];
}

export interface RoutingConfig {
  deployments: Record<string, DeploymentConfig>;
  models: Record<string, AliasConfig>;
}

export interface GatewayConfig extends RoutingConfig {
  /** Where state lives, as resolved at load (absolute when loaded from a file). Absent in configs built by hand. */
  dataDir?: string;
  server: { host: string; port: number; bodyLimit: string; maxJsonDepth?: number; gatewayRegion?: string; processes: number | 'auto' } & ServerSettings;
  durable: DurableConfig;
  auth: AuthConfig;
  logging: { level: 'debug' | 'info' | 'warn' | 'error' | 'silent'; bodies: boolean };
  observability: ObservabilityConfig;
  health: HealthConfig;
  batches: BatchesConfig;
  /** Absent in configs built by hand (tests); parsed configs always have it. */
  cache?: CacheConfig;
  providers: Record<string, ProviderConfig>;
}
