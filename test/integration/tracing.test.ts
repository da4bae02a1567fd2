/**
 * Tracing, exported to an in-memory exporter: a request makes an ingress span with one child span per
 * upstream attempt; on the durable path the trace goes on through Temporal (start, workflow, activities).
 * With tracing off, nothing is loaded or hooked.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { WORKFLOWS_PATH } from '../../src/durable/worker.js';
import { Observability } from '../../src/observability/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { workflowInterceptorModules } from '../../src/observability/workflow-modules.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { withTestDefaults } from '../support/harness.js';

const yaml = (taskQueue: string) => `
server: { host: 127.0.0.1 }
durable:
  temporal: { taskQueue: ${taskQueue} }
  heartbeatTimeoutMs: 2000
observability:
  tracing: { enabled: true, serviceName: gateway-under-test }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-trace-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
models:
  chat: { groups: [{ deployments: [oa-main] }] }
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 1, capMs: 5 } }
`;

const exporter = new InMemorySpanExporter();
let fake: FakeProvider;
let gateway: RunningGateway;

beforeAll(async () => {
  // The workflow sandbox half of the tracing interceptors must be bundled in: this run's shared bundle has
  // only the metrics module (tracing is off by default), so this file bundles its own.
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: workflowInterceptorModules({ tracing: true }),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  const codePath = join(mkdtempSync(join(tmpdir(), 'gateway-tracing-bundle-')), 'workflows.js');
  writeFileSync(codePath, bundle.code);
  fake = await startFakeProvider();
  const config = parseConfig(withTestDefaults(yaml(`trace-${randomUUID()}`)).replaceAll('{{FAKE}}', fake.url), 'tracing-test', {});
  gateway = await startGateway(config, {
    port: 0,
    logger: createLogger('silent'),
    temporalAddress: inject('temporalAddress'),
    worker: { workflowBundle: { codePath } },
    observability: { spanExporter: exporter },
  });
}, 180_000);
afterAll(async () => {
  await gateway?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.reset();
  exporter.reset();
});

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

async function chat(headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, ...headers },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'trace me' }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

async function spansUntil(done: (spans: ReadableSpan[]) => boolean, ms = 20_000): Promise<ReadableSpan[]> {
  const end = Date.now() + ms;
  for (;;) {
    const spans = exporter.getFinishedSpans();
    if (done(spans)) return spans;
    if (Date.now() > end) throw new Error(`spans did not arrive; got: ${spans.map((s) => s.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: ReadableSpan[], name: string) => {
  const found = named(spans, name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};

describe('tracing', () => {
  it('a request is an ingress span in the caller’s trace, with a child span per attempt', async () => {
    fake.scriptFor('gpt-main', { kind: 'error', status: 500 });
    await chat();
    const spans = await spansUntil((s) => named(s, 'POST /v1/chat/completions').length === 1);
    const ingress = one(spans, 'POST /v1/chat/completions');
    expect(ingress.kind).toBe(SpanKind.SERVER);
    expect(ingress.spanContext().traceId).toBe(TRACE_ID);
    expect(ingress.parentSpanId).toBe(PARENT_ID);
    expect(ingress.attributes).toMatchObject({ 'gateway.alias': 'chat', 'gateway.outcome': 'fallback', 'gateway.deployment': 'oa-main', 'gateway.attempts': 2, 'http.response.status_code': 200 });
    expect(ingress.resource.attributes['service.name']).toBe('gateway-under-test');

    const attempts = named(spans, 'attempt oa-main').sort((a, b) => Number(a.attributes['gateway.attempt']) - Number(b.attributes['gateway.attempt']));
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a.parentSpanId).toBe(ingress.spanContext().spanId);
      expect(a.spanContext().traceId).toBe(TRACE_ID);
    }
    expect(attempts[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempts[0]!.attributes).toMatchObject({ 'error.type': 'server', 'http.response.status_code': 500, 'gateway.next': expect.stringMatching(/^retry/) });
    expect(attempts[1]!.attributes['gateway.outcome']).toBe('ok');
    // attempts lie within the request, in order
    const t = (hr: [number, number]) => hr[0] * 1e3 + hr[1] / 1e6;
    expect(t(attempts[0]!.startTime)).toBeGreaterThanOrEqual(t(ingress.startTime) - 1);
    expect(t(attempts[1]!.startTime)).toBeGreaterThanOrEqual(t(attempts[0]!.endTime) - 1);
    expect(t(attempts[1]!.endTime)).toBeLessThanOrEqual(t(ingress.endTime) + 1);
  });

  it('the durable path continues the trace: start, workflow run, activities', async () => {
    await chat({ 'x-gateway-durable': 'true' });
    const spans = await spansUntil((s) => named(s, 'RunWorkflow:requestWorkflow').length === 1 && named(s, 'POST /v1/chat/completions').length === 1);
    const ingress = one(spans, 'POST /v1/chat/completions');
    const start = one(spans, 'StartWorkflow:requestWorkflow');
    const run = one(spans, 'RunWorkflow:requestWorkflow');
    const startCall = one(spans, 'StartActivity:callProvider');
    const runCall = one(spans, 'RunActivity:callProvider');
    // a request the gateway planned skips the route local activity; the charge at the end is a local activity
    expect(named(spans, 'StartActivity:route')).toHaveLength(0);
    const startCharge = one(spans, 'StartActivity:chargeRequest');
    for (const s of [start, run, startCall, runCall, startCharge]) expect(s.spanContext().traceId, s.name).toBe(TRACE_ID);
    expect(start.parentSpanId).toBe(ingress.spanContext().spanId);
    expect(run.parentSpanId).toBe(start.spanContext().spanId);
    expect(startCall.parentSpanId).toBe(run.spanContext().spanId);
    expect(startCharge.parentSpanId).toBe(run.spanContext().spanId);
    expect(runCall.parentSpanId).toBe(startCall.spanContext().spanId);
    expect(ingress.attributes).toMatchObject({ 'gateway.mode': 'durable', 'gateway.outcome': 'success' });
    expect(String(ingress.attributes['gateway.durable_id'])).toMatch(/^req-/);
    // the activity's span is made in the worker, by this gateway's tracer provider
    expect(runCall.resource.attributes['service.name']).toBe('gateway-under-test');
  });
});

describe('tracing off (the default)', () => {
  it('loads no tracer and hooks nothing into the executor', async () => {
    const config = parseConfig(withTestDefaults('durable: { enabled: false }\nproviders: {}\ndeployments: {}\nmodels: {}\n'), 'off', {});
    const obs = await Observability.create(config);
    expect(obs.tracing).toBeUndefined();
    expect(obs.onAttempt(undefined)).toBeUndefined();
    const mine = () => undefined;
    expect(obs.onAttempt(mine)).toBe(mine);
    expect(obs.workerOptions().interceptors?.activity).toEqual([]);
    expect(obs.workerOptions().sinks?.exporter).toBeUndefined();
  });
});
