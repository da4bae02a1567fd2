/**
 * Reads the load of vLLM servers from their Prometheus `/metrics` page and hands it to HealthState, so
 * balancing sees the engine's own queue (requests from every client, not only this gateway's).
 *
 * Wiring, in src/gateway.ts for roles that run requests:
 *
 *   const scraper = new VllmMetricsScraper({ targets: vllmTargets(cfg), health, config: cfg.health.engine, logger });
 *   scraper.start();            // scrapes at once, then every scrapeIntervalMs
 *   ...
 *   await scraper.stop();       // on shutdown: aborts scrapes in flight
 *
 * A deployment is scraped when it has `engine: vllm`; the URL is its `metricsUrl` when set (add
 * `metricsUrl: metricsUrlField` to the deployment schema and carry it into DeploymentConfig), else the
 * provider's baseUrl without its trailing `/v1`, plus `/metrics`. Deployments on one server share a scrape.
 * A failed or slow scrape updates nothing: the last numbers age until the snapshot calls them stale.
 *
 * Gauges read: vllm:num_requests_waiting and vllm:num_requests_running (summed over label sets: data-parallel
 * engines report one each), vllm:kv_cache_usage_perc or, from servers before its rename,
 * vllm:gpu_cache_usage_perc (averaged: each engine reports its own fraction). When samples carry a
 * `model_name` equal to the deployment's model, only those count; otherwise all do (the server was started
 * with another served name).
 *
 * The text format is parsed here rather than with parse-prometheus-text-format, the one npm parser of it:
 * that package has had no release for years, ships no types and drops the last sample of a page that does
 * not end in a newline. Only a few gauges are needed, so the parser below reads sample lines and nothing
 * else (HELP/TYPE, histograms and the rest are skipped without being interpreted).
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import type { EngineStatsConfig } from '../config/health-schema.js';
import type { DeploymentConfig, ProviderConfig } from '../config/types.js';
import { httpRequest } from '../providers/http.js';
import type { EngineStats } from './health-state.js';

/** The optional `metricsUrl` of a deployment, for the lead's deployment schema. */
export const metricsUrlField = z.url({ protocol: /^https?$/ }).optional();

export const VLLM_GAUGES = {
  waiting: 'vllm:num_requests_waiting',
  running: 'vllm:num_requests_running',
  kvCache: 'vllm:kv_cache_usage_perc',
  /** The name before vLLM renamed it to kv_cache_usage_perc. */
  kvCacheOld: 'vllm:gpu_cache_usage_perc',
} as const;

const WANTED = new Set<string>(Object.values(VLLM_GAUGES));

/** Bodies larger than this are not a metrics page worth reading (vLLM's own is well under 1 MB). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface VllmTarget {
  deployment: string;
  url: string;
  /** The upstream model name, matched against the `model_name` label. */
  model?: string;
}

/** `<base without /v1>/metrics`, or the explicit URL; null when there is nothing HTTP to scrape. */
export function metricsUrlFor(providerBaseUrl: string | undefined, explicit?: string): string | null {
  if (explicit) return explicit;
  if (!providerBaseUrl || !/^https?:\/\//i.test(providerBaseUrl)) return null;
  return `${providerBaseUrl.replace(/\/+$/, '').replace(/\/v1$/, '')}/metrics`;
}

type ScrapeDeployment = Pick<DeploymentConfig, 'provider' | 'model'> & { engine?: string; metricsUrl?: string };

export function vllmTargets(cfg: {
  deployments: Readonly<Record<string, ScrapeDeployment>>;
  providers: Readonly<Record<string, Pick<ProviderConfig, 'baseUrl'>>>;
}): VllmTarget[] {
  const targets: VllmTarget[] = [];
  for (const [deployment, d] of Object.entries(cfg.deployments)) {
    if (d.engine !== 'vllm') continue;
    const url = metricsUrlFor(cfg.providers[d.provider]?.baseUrl, d.metricsUrl);
    if (url) targets.push({ deployment, url, model: d.model });
  }
  return targets;
}

/**
 * Samples of the wanted metric names from Prometheus text exposition (also reads OpenMetrics gauges).
 * Lines it cannot read are skipped: one odd line must not blind the balancer to the rest of the page.
 */
export function parseSamples(text: string, wanted: ReadonlySet<string> = WANTED): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name || !wanted.has(name)) continue;
    const sample = parseSampleLine(line, name);
    if (sample) out.push(sample);
  }
  return out;
}

function parseSampleLine(line: string, name: string): Sample | null {
  let i = name.length;
  const labels: Record<string, string> = {};
  while (line[i] === ' ' || line[i] === '\t') i++;
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
      if (!key) return null;
      i += key.length;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] !== '=') return null;
      i++;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] !== '"') return null;
      i++;
      let value = '';
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\') {
          const next = line[++i];
          value += next === 'n' ? '\n' : (next ?? '');
        } else value += line[i];
      }
      if (line[i] !== '"') return null;
      i++;
      labels[key] = value;
    }
  }
  const [valueText] = line.slice(i).trim().split(/\s+/);
  const value = parseValue(valueText);
  return value === null ? null : { name, labels, value };
}

function parseValue(text: string | undefined): number | null {
  if (!text) return null;
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const n = Number(text);
  return text.trim() !== '' && !Number.isNaN(n) ? n : null;
}

/**
 * The engine's load from parsed samples; null when the page lacks the request gauges (not a vLLM server,
 * or the wrong URL), which counts as a failed scrape.
 */
export function engineStatsFrom(samples: readonly Sample[], model?: string): EngineStats | null {
  const of = (name: string) => {
    const all = samples.filter((s) => s.name === name && Number.isFinite(s.value));
    const mine = model === undefined ? [] : all.filter((s) => s.labels.model_name === model);
    return mine.length > 0 ? mine : all;
  };
  const waiting = of(VLLM_GAUGES.waiting);
  const running = of(VLLM_GAUGES.running);
  if (waiting.length === 0 || running.length === 0) return null;
  const kvNew = of(VLLM_GAUGES.kvCache);
  const kv = kvNew.length > 0 ? kvNew : of(VLLM_GAUGES.kvCacheOld);
  const sum = (xs: readonly Sample[]) => xs.reduce((a, s) => a + s.value, 0);
  return {
    waiting: sum(waiting),
    running: sum(running),
    kvCacheUsage: kv.length > 0 ? Math.min(1, Math.max(0, sum(kv) / kv.length)) : null,
  };
}

export interface VllmScraperOptions {
  targets: readonly VllmTarget[];
  health: { setEngineStats(deployment: string, stats: EngineStats, at: number): void };
  config: Pick<EngineStatsConfig, 'scrapeIntervalMs' | 'timeoutMs'>;
  now?: () => number;
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Default 8 MiB. */
  maxBodyBytes?: number;
}

export interface ScrapeResult {
  url: string;
  deployments: string[];
  ok: boolean;
  error?: string;
}

export class VllmMetricsScraper {
  /** Targets grouped by URL: one request per server, whatever number of deployments point at it. */
  private readonly byUrl = new Map<string, VllmTarget[]>();
  private readonly now: () => number;
  private readonly running = new Map<string, Promise<ScrapeResult>>();
  /** Last outcome per URL, so a server that stays down is logged once, not on every tick. */
  private readonly failing = new Map<string, boolean>();
  private timer: NodeJS.Timeout | null = null;
  private abort = new AbortController();

  constructor(private readonly opts: VllmScraperOptions) {
    this.now = opts.now ?? Date.now;
    for (const t of opts.targets) {
      const list = this.byUrl.get(t.url) ?? [];
      list.push(t);
      this.byUrl.set(t.url, list);
    }
  }

  get urls(): string[] {
    return [...this.byUrl.keys()];
  }

  start(): void {
    if (this.timer || this.byUrl.size === 0) return;
    this.abort = new AbortController();
    void this.scrapeOnce();
    this.timer = setInterval(() => void this.scrapeOnce(), this.opts.config.scrapeIntervalMs);
    // scraping alone must not keep the process alive
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await Promise.allSettled([...this.running.values()]);
  }

  /** One round over every server. A server whose previous scrape has not ended is left out of this round. */
  async scrapeOnce(): Promise<ScrapeResult[]> {
    const round: Array<Promise<ScrapeResult>> = [];
    for (const [url, targets] of this.byUrl) {
      if (this.running.has(url)) continue;
      const p = this.scrape(url, targets).finally(() => this.running.delete(url));
      this.running.set(url, p);
      round.push(p);
    }
    return Promise.all(round);
  }

  private async scrape(url: string, targets: readonly VllmTarget[]): Promise<ScrapeResult> {
    const deployments = targets.map((t) => t.deployment);
    let result: ScrapeResult;
    try {
      const text = await this.fetchText(url);
      const at = this.now();
      const samples = parseSamples(text);
      const missing: string[] = [];
      for (const t of targets) {
        const stats = engineStatsFrom(samples, t.model);
        if (stats) this.opts.health.setEngineStats(t.deployment, stats, at);
        else missing.push(t.deployment);
      }
      result = missing.length === 0 ? { url, deployments, ok: true } : { url, deployments, ok: false, error: `no vLLM request gauges for ${missing.join(', ')}` };
    } catch (err) {
      result = { url, deployments, ok: false, error: this.abort.signal.aborted ? 'stopped' : describeError(err) };
    }
    this.logTransition(result);
    return result;
  }

  private async fetchText(url: string): Promise<string> {
    const ms = this.opts.config.timeoutMs;
    const res = await httpRequest(url, undefined, {
      method: 'GET',
      // the text format: a server that could answer OpenMetrics or protobuf is asked for the plain one
      headers: { accept: 'text/plain;version=0.0.4' },
      timeouts: { connectMs: ms, firstByteMs: ms, idleMs: ms, totalMs: ms },
      signal: this.abort.signal,
    });
    if (res.status < 200 || res.status >= 300) {
      discard(res.body);
      throw new Error(`HTTP ${res.status}`);
    }
    const limit = this.opts.maxBodyBytes ?? MAX_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        discard(res.body);
        throw new Error(`metrics page larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private logTransition(r: ScrapeResult): void {
    if (r.error === 'stopped') return;
    const was = this.failing.get(r.url);
    this.failing.set(r.url, !r.ok);
    if (!r.ok && was !== true) this.opts.logger?.warn({ deployments: r.deployments, error: r.error }, 'vLLM metrics scrape failed; its load data will turn stale');
    else if (r.ok && was === true) this.opts.logger?.info({ deployments: r.deployments }, 'vLLM metrics scrape recovered');
  }
}

/** Drops a body unread; undici reports the abort as an error event, which nobody else would listen to. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
