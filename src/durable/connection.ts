/** Connection settings for the Temporal cluster (or the embedded dev server), shared by client and worker. */
import { readFileSync } from 'node:fs';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type TLSConfig } from '@temporalio/client';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import type { Logger } from 'pino';
import type { DurableConfig } from '../config/types.js';
import { TemporalUnavailable } from './errors.js';

export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** Encrypts payloads (payload-codec.ts); every client and worker of the target uses it. None: plaintext. */
  payloadCodec?: PayloadCodec;
}

/** The data converter of every Temporal client and worker the gateway creates for `target`. */
export function dataConverterOf(target: Pick<TemporalTarget, 'payloadCodec'>): DataConverter | undefined {
  return target.payloadCodec ? { payloadCodecs: [target.payloadCodec] } : undefined;
}

export function temporalTarget(durable: DurableConfig, address: string, payloadCodec?: PayloadCodec): TemporalTarget {
  const t = durable.temporal;
  let tls: TLSConfig | boolean | undefined;
  if (typeof t.tls === 'object') {
    tls = {
      serverNameOverride: t.tls.serverName,
      serverRootCACertificate: t.tls.caFile ? readFileSync(t.tls.caFile) : undefined,
      clientCertPair:
        t.tls.certFile && t.tls.keyFile ? { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) } : undefined,
    };
  } else tls = t.tls;
  // An API key implies TLS (Temporal Cloud refuses plaintext with keys).
  if (t.apiKey && tls === undefined) tls = true;
  return { address, namespace: t.namespace, taskQueue: t.taskQueue, tls, apiKey: t.apiKey, payloadCodec };
}

/**
 * gRPC channel settings of the client. grpc-js backs off reconnects up to 120 s by default, so after an outage
 * the gateway stayed down ~44 s after Temporal was back; capped at 2 s it is back in ~1.5 s. The keep-alive
 * values repeat the SDK's defaults (passing channelArgs replaces none of them, but they are spelled out here).
 */
export const CLIENT_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.min_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 15_000,
} as const;

/**
 * The SDK retries an UNAVAILABLE call 10 times (~28 s in all); an HTTP client waiting for a 503 should not.
 * Four tries span ~1 s, enough to ride over a reconnect without holding requests through an outage.
 */
const CALL_RETRY_ATTEMPTS = 4;

const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** UNAVAILABLE or DEADLINE_EXCEEDED anywhere in the cause chain (the SDK wraps gRPC errors in ServiceError). */
export function isUnreachable(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (e.code === GRPC_UNAVAILABLE || e.code === GRPC_DEADLINE_EXCEEDED) return true;
  }
  return false;
}

export interface TemporalLinkOptions {
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Pause between connection attempts while Temporal is unreachable: doubles from the first value to the last. */
  backoffMs?: [number, number];
}

/**
 * The client side's one connection to Temporal, opened lazily so the HTTP server starts (and the fast path
 * serves) while Temporal is unreachable. A background loop connects with bounded back-off; until it has, and
 * whenever a call fails because the server cannot be reached, calls throw TemporalUnavailable (a 503).
 */
export class TemporalLink {
  readonly connection: Connection;
  private connected = false;
  private closed = false;
  private wake?: () => void;
  private readonly firstConnect: Promise<void>;
  private resolveFirst!: () => void;
  /** Resolves after the first try to connect, successful or not: a reachable Temporal is connected before serving. */
  readonly firstAttempt: Promise<void>;
  private resolveFirstAttempt!: () => void;

  constructor(
    readonly target: TemporalTarget,
    private readonly opts: TemporalLinkOptions = {},
  ) {
    this.connection = Connection.lazy({
      address: target.address,
      tls: target.tls,
      apiKey: target.apiKey,
      channelArgs: CLIENT_CHANNEL_ARGS,
      interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: CALL_RETRY_ATTEMPTS }))],
    });
    this.firstConnect = new Promise((resolve) => (this.resolveFirst = resolve));
    this.firstAttempt = new Promise((resolve) => (this.resolveFirstAttempt = resolve));
    void this.connectLoop();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once the first connection succeeded (or the link was closed). */
  whenConnected(): Promise<void> {
    return this.firstConnect;
  }

  /** A cheap round trip (GetSystemInfo) with a short deadline: throws when Temporal does not answer. */
  async ping(timeoutMs = 1_000): Promise<void> {
    await this.connection.withDeadline(Date.now() + timeoutMs, () => this.connection.workflowService.getSystemInfo({}));
  }

  /** Runs a call against Temporal; unreachable (not connected yet, UNAVAILABLE, deadline) becomes TemporalUnavailable. */
  async call<T>(fn: () => Promise<T>, unknownOutcomeId?: string): Promise<T> {
    if (!this.connected) throw new TemporalUnavailable(`Temporal at ${this.target.address} is not reachable yet`);
    try {
      return await fn();
    } catch (err) {
      if (isUnreachable(err) && !(err instanceof TemporalUnavailable)) throw new TemporalUnavailable(`Temporal at ${this.target.address} is unreachable`, unknownOutcomeId, { cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.resolveFirst();
    this.resolveFirstAttempt();
    await this.connection.close();
  }

  private async connectLoop(): Promise<void> {
    const [first, cap] = this.opts.backoffMs ?? [250, 2_000];
    let delay = first;
    let warned = false;
    while (!this.closed) {
      try {
        await this.ping(2_000);
        this.connected = true;
        this.resolveFirst();
        if (warned) this.opts.logger?.info({ address: this.target.address }, 'connected to Temporal');
        return;
      } catch (err) {
        if (this.closed) return;
        if (!warned) this.opts.logger?.warn({ address: this.target.address, err: String(err) }, 'Temporal unreachable: durable endpoints answer 503 until it connects');
        warned = true;
      } finally {
        this.resolveFirstAttempt();
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      delay = Math.min(cap, delay * 2);
    }
  }
}
