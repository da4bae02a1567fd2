/**
 * Reads gateway.yaml: YAML → ${ENV} substitution → zod validation → resolved GatewayConfig.
 * Every problem is reported with its exact path, all at once, so a bad config is fixed in one pass.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { keyHashesOf, secretsOf } from '../security/config-secrets.js';
import { registerSecrets } from '../security/secrets.js';
import { BUILTIN_FALLBACK, apiKeySchema, configSchema, type FallbackPolicy, type FallbackPolicyInput, type RawConfig } from './schema.js';
import { defaultEmbedderConfig } from '../embeddings/schema.js';
import { GENERIC_COMPATIBLE, PRESET_DEFAULTS, TYPE_DEFAULTS } from './presets.js';
import type { AliasConfig, ApiKeyConfig, DeploymentConfig, GatewayConfig, ProviderConfig } from './types.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid gateway config (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type PathPart = string | number;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${NAME} and ${NAME:-default} in every string of the tree; each missing variable is named. */
export function substituteEnv(node: unknown, env: NodeJS.ProcessEnv, problems: string[], path: PathPart[] = []): unknown {
  if (typeof node === 'string') {
    return node.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(node)) return node.map((v, i) => substituteEnv(v, env, problems, [...path, i]));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, substituteEnv(v, env, problems, [...path, k])]),
    );
  }
  return node;
}

/**
 * Where relative paths of a config point. `baseDir` (the config file's directory) anchors `dataDir` and the
 * paths that are not state (keys file, TLS files, model directories); data paths (the dev server's db, the
 * embedded cache, batch files) are inside the data dir. `dataDir` here (from --data-dir / GATEWAY_DATA_DIR)
 * replaces the config's. Without a base (a config given as text) relative paths are left relative.
 */
export interface PathBase {
  baseDir?: string;
  dataDir?: string;
}

export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env, paths: PathBase = {}): GatewayConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(source, [`YAML: ${(err as Error).message}`]);
  }
  const problems: string[] = [];
  const substituted = substituteEnv(doc ?? {}, env, problems);
  const parsed = configSchema.safeParse(withDefaultEmbedder(substituted, env));
  if (!parsed.success) {
    // A missing variable is already named; the empty string it left behind would only repeat the problem.
    const named = new Set(problems.map((p) => p.slice(0, p.indexOf(': '))));
    for (const issue of parsed.error.issues) {
      const path = formatPath(issue.path);
      if (!named.has(path)) problems.push(`${path}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  const config = resolvePaths(resolve(parsed.data, problems, source), paths);
  // from here on, upstream text, logs and durable failures are scrubbed of this config's keys (client and
  // admin keys by their hashes)
  registerSecrets(secretsOf(config), keyHashesOf(config.auth));
  return config;
}

/**
 * A cache without an `embedder` gets the environment's default (the local model when
 * GATEWAY_EMBEDDING_MODEL_DIR names one): the schema's own default stays the same everywhere.
 */
function withDefaultEmbedder(doc: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return doc;
  const cache = (doc as { cache?: unknown }).cache ?? {};
  if (typeof cache !== 'object' || Array.isArray(cache) || cache === null || 'embedder' in cache) return doc;
  return { ...doc, cache: { ...cache, embedder: defaultEmbedderConfig(env) } };
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, opts: { dataDir?: string } = {}): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const config = parseConfig(text, path, env, { baseDir: dirname(resolvePath(path)), dataDir: opts.dataDir });
  if (config.auth.keysFile) {
    config.auth.keys = [...config.auth.keys, ...loadKeysFile(config.auth.keysFile, config)];
    registerSecrets([], keyHashesOf(config.auth));
  }
  return config;
}

/** Keys kept apart from the main config (so they can be rotated by another process), validated the same way. */
export function loadKeysFile(path: string, config: GatewayConfig): ApiKeyConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(path, [`cannot read keys file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const list = Array.isArray(doc) ? doc : (doc as { keys?: unknown } | null)?.keys;
  const parsed = z.array(apiKeySchema).safeParse(list ?? []);
  if (!parsed.success) {
    throw new ConfigError(
      path,
      parsed.error.issues.map((i) => {
        const at = formatPath(i.path);
        return `keys${at === '(root)' ? '' : at.startsWith('[') ? at : `.${at}`}: ${i.message}`;
      }),
    );
  }
  const problems: string[] = [];
  const ids = new Set(config.auth.keys.map((k) => k.id));
  parsed.data.forEach((k, i) => {
    if (ids.has(k.id)) problems.push(`keys[${i}].id: duplicate key id '${k.id}'`);
    ids.add(k.id);
    k.models?.forEach((m, j) => {
      if (!config.models[m]) problems.push(`keys[${i}].models[${j}]: unknown model alias '${m}'`);
    });
  });
  if (problems.length > 0) throw new ConfigError(path, problems);
  return parsed.data;
}

/** The config path from `--config PATH`, `--config=PATH` or GATEWAY_CONFIG, in that order. */
export function configPathFrom(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0 && argv[i + 1]) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--config='));
  if (eq) return eq.slice('--config='.length);
  return env.GATEWAY_CONFIG || undefined;
}

/** The data dir from `--data-dir PATH`, `--data-dir=PATH` or GATEWAY_DATA_DIR; relative to the cwd, as any path typed on a command line. */
export function dataDirFrom(argv: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): string | undefined {
  const i = argv.indexOf('--data-dir');
  const raw = (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--data-dir='))?.slice('--data-dir='.length)) || env.GATEWAY_DATA_DIR || undefined;
  return raw === undefined ? undefined : resolvePath(cwd, raw);
}

/** Every path field of the config anchored as PathBase says, so the same file means the same state from any cwd. */
function resolvePaths(config: GatewayConfig, paths: PathBase): GatewayConfig {
  const anchor = (base: string | undefined, p: string) => (isAbsolute(p) ? p : base === undefined ? p : isAbsolute(base) ? resolvePath(base, p) : join(base, p));
  const fromConfig = (p: string) => anchor(paths.baseDir, p);
  const dataDir = paths.dataDir ?? fromConfig(config.dataDir ?? '.data');
  const inData = (p: string) => anchor(dataDir, p);
  const durable = { ...config.durable, devServer: { ...config.durable.devServer, dbFile: inData(config.durable.devServer.dbFile) } };
  const tls = durable.temporal.tls;
  if (tls && typeof tls === 'object') {
    durable.temporal = {
      ...durable.temporal,
      tls: { ...tls, ...(tls.caFile && { caFile: fromConfig(tls.caFile) }), ...(tls.certFile && { certFile: fromConfig(tls.certFile) }), ...(tls.keyFile && { keyFile: fromConfig(tls.keyFile) }) },
    };
  }
  const withModelDir = <E extends { kind: string }>(e: E): E => (e.kind === 'local' && 'dir' in e && typeof e.dir === 'string' ? { ...e, dir: fromConfig(e.dir) } : e);
  const cache = config.cache && {
    ...config.cache,
    store: config.cache.store.kind === 'embedded' ? { ...config.cache.store, dir: inData(config.cache.store.dir) } : config.cache.store,
    embedder: withModelDir(config.cache.embedder),
  };
  const models = Object.fromEntries(
    Object.entries(config.models).map(([name, a]) => [
      name,
      a.semantic && typeof a.semantic.embedder === 'object' ? { ...a, semantic: { ...a.semantic, embedder: withModelDir(a.semantic.embedder) } } : a,
    ]),
  );
  return {
    ...config,
    dataDir,
    durable,
    auth: config.auth.keysFile ? { ...config.auth, keysFile: fromConfig(config.auth.keysFile) } : config.auth,
    batches: { ...config.batches, dir: inData(config.batches.dir) },
    ...(cache && { cache }),
    models,
  };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Later layers override earlier ones field by field (nested blocks too). */
function mergePolicy(base: FallbackPolicy, ...layers: Array<FallbackPolicyInput | undefined>): FallbackPolicy {
  return layers.reduce<FallbackPolicy>(
    (acc, layer) => ({
      ...acc,
      ...definedOnly(layer),
      backoff: { ...acc.backoff, ...definedOnly(layer?.backoff) },
      catchAll: { ...acc.catchAll, ...definedOnly(layer?.catchAll) },
    }),
    base,
  );
}

function resolve(raw: RawConfig, problems: string[], source: string): GatewayConfig {
  const providers: Record<string, ProviderConfig> = {};
  for (const [name, p] of Object.entries(raw.providers)) {
    const defaults =
      p.type === 'openai-compatible'
        ? p.preset
          ? PRESET_DEFAULTS[p.preset]
          : { ...GENERIC_COMPATIBLE, baseUrl: undefined }
        : TYPE_DEFAULTS[p.type];
    const { baseUrl: defaultUrl, ...quirks } = defaults;
    const baseUrl = (p.baseUrl ?? defaultUrl ?? '').replace(/\/+$/, '');
    if (quirks.needsKey && !p.apiKey) problems.push(`providers.${name}.apiKey: required for type ${p.type}${p.preset ? ` (${p.preset})` : ''}`);
    providers[name] = {
      name,
      type: p.type,
      preset: p.preset,
      baseUrl,
      apiKey: p.apiKey,
      apiVersion: p.apiVersion ?? (p.type === 'azure-openai' ? '2024-10-21' : undefined),
      anthropicVersion: p.anthropicVersion ?? (p.type === 'anthropic' ? '2023-06-01' : undefined),
      headers: p.headers,
      timeouts: p.timeouts,
      quirks,
      mock: p.type === 'mock' ? (p.mock ?? { latencyMs: 0, tokenDelayMs: 0, pattern: ['ok'] }) : undefined,
    };
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  const deployments: Record<string, DeploymentConfig> = {};
  for (const [name, d] of Object.entries(raw.deployments)) {
    deployments[name] = { name, ...d, providerType: providers[d.provider]!.type };
  }
  const models: Record<string, AliasConfig> = {};
  for (const [name, a] of Object.entries(raw.models)) {
    models[name] = {
      name,
      description: a.description,
      groups: (a.groups ?? []).map((g) =>
        g.deployments.map((m) => {
          const dep = typeof m === 'string' ? m : m.deployment;
          const weight = (typeof m === 'string' ? undefined : m.weight) ?? deployments[dep]!.weight;
          return { deployment: dep, weight };
        }),
      ),
      downgrade: a.downgrade,
      fallback: mergePolicy(BUILTIN_FALLBACK, raw.defaults.fallback, a.fallback),
      rules: a.rules,
      ...(a.hedge && { hedge: a.hedge }),
      ...(a.routing && { routing: a.routing }),
      ...(a.cascade && { cascade: a.cascade }),
      ...(a.semantic && { semantic: a.semantic }),
      ...(a.passthrough && { passthrough: a.passthrough }),
    };
  }
  return { dataDir: raw.dataDir, server: raw.server, logging: raw.logging, durable: raw.durable, auth: raw.auth, health: raw.health, batches: raw.batches, observability: raw.observability, cache: raw.cache, providers, deployments, models };
}
