/**
 * OpenTelemetry tracing, loaded only when `observability.tracing.enabled` (the gateway imports this module
 * lazily, so with tracing off no SDK is loaded, no span is made and no hook is installed).
 *
 * One trace per request: the ingress span (kind SERVER) with one child span per upstream attempt, made from
 * the attempt's record when it ends (its start is its end minus its latency). On the durable path Temporal's
 * own interceptors carry the trace on: the client's StartWorkflow span, then in the worker the workflow's
 * RunWorkflow span and a span per activity (route, callProvider, catchAll), linked through workflow and
 * activity headers. Each gateway instance has its own tracer provider (not a global one), so several
 * gateways in one process export separately; the async context manager and the W3C propagator are global by
 * nature and are installed once.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetryWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { ObservabilityConfig } from '../config/observability-schema.js';
import type { Attempt } from '../decision/attempt.js';
import type { FinishedRequest } from './request-record.js';

export interface TracingOptions {
  /** Replaces the OTLP exporter (tests pass an in-memory one; spans are then handed over as each ends). */
  exporter?: SpanExporter;
}

export interface IngressSpan {
  /** Runs the rest of the request with this span active, so attempts and the Temporal client find it. */
  run<T>(fn: () => T): T;
  end(finished: FinishedRequest | undefined, status: number): void;
}

let globalsInstalled = false;

function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export class Tracing {
  readonly tracer: Tracer;
  private readonly provider: BasicTracerProvider;
  private readonly processor: SpanProcessor;
  private readonly resource: Resource;

  constructor(cfg: ObservabilityConfig['tracing'], opts: TracingOptions = {}) {
    installGlobals();
    this.resource = new Resource({ 'service.name': cfg.serviceName });
    const exporter = opts.exporter ?? new OTLPTraceExporter({ ...(cfg.otlpEndpoint && { url: cfg.otlpEndpoint }), headers: cfg.otlpHeaders });
    this.processor = opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
    this.provider = new BasicTracerProvider({
      resource: this.resource,
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
      spanProcessors: [this.processor],
    });
    this.tracer = this.provider.getTracer('llm-gateway');
  }

  /**
   * A caller that sends `traceparent` gets the gateway's spans in its own trace. `arrivedAt` is the request's
   * arrival (performance.now() time), as the span starts only once its body has been read.
   */
  startIngress(method: string, path: string, requestId: string, headers: Record<string, string | string[] | undefined>, arrivedAt: number): IngressSpan {
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    const span = this.tracer.startSpan(
      `${method} ${path}`,
      { kind: SpanKind.SERVER, startTime: arrivedAt, attributes: { 'http.request.method': method, 'url.path': path, 'gateway.request_id': requestId } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    return {
      run: (fn) => context.with(active, fn),
      end: (f, status) => endIngress(span, f, status),
    };
  }

  /** For ExecutorDeps.onAttempt: the attempt as a child of the request's span, timed from its record. */
  readonly onAttempt = (a: Attempt): void => {
    const parent = trace.getSpan(context.active());
    if (!parent) return;
    const end = Date.now();
    const span = this.tracer.startSpan(
      `attempt ${a.deployment}`,
      {
        kind: SpanKind.CLIENT,
        startTime: end - a.latencyMs,
        attributes: {
          'gateway.deployment': a.deployment,
          'gateway.provider': a.provider,
          'gateway.alias': a.alias,
          'gateway.stage': a.stage,
          'gateway.attempt': a.attempt,
          'gateway.outcome': a.outcome,
          ...(a.kind && { 'error.type': a.kind }),
          ...(a.status !== undefined && { 'http.response.status_code': a.status }),
          ...(a.next && { 'gateway.next': a.next }),
          ...(a.ttftMs !== undefined && { 'gateway.ttft_ms': a.ttftMs }),
        },
      },
      context.active(),
    );
    if (a.outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: a.kind });
    span.end(end);
  };

  /** For the Temporal client that starts durable requests: carries the ingress span into the workflow. */
  clientInterceptors(): WorkflowClientInterceptor[] {
    return [new OpenTelemetryWorkflowClientInterceptor({ tracer: this.tracer })];
  }

  /** For the worker: activity spans, and the sink the workflow sandbox exports its spans through. */
  workerInterceptors(): Pick<WorkerInterceptors, 'activity'> {
    return {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: this.tracer }), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    };
  }

  workflowSinks(): InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }> {
    return { exporter: makeWorkflowExporter(this.processor, this.resource) };
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

function endIngress(span: Span, f: FinishedRequest | undefined, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (f) {
    span.setAttributes({
      'gateway.alias': f.alias,
      'gateway.mode': f.mode,
      'gateway.outcome': f.outcome,
      'gateway.attempts': f.attempts.length,
      ...(f.deployment && { 'gateway.deployment': f.deployment }),
      ...(f.provider && { 'gateway.provider': f.provider }),
      ...(f.tenant && { 'gateway.tenant': f.tenant }),
      ...(f.errorClass && { 'error.type': f.errorClass }),
      ...(f.durableId && { 'gateway.durable_id': f.durableId }),
      ...(f.usage && { 'gen_ai.usage.input_tokens': f.usage.inputTokens, 'gen_ai.usage.output_tokens': f.usage.outputTokens }),
    });
  }
  if (status >= 500 || f?.outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: f?.errorClass });
  span.end();
}
