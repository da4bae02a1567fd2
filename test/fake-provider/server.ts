/**
 * Fake LLM provider: one node:http server speaking OpenAI, Azure OpenAI, Anthropic and Gemini
 * wire formats, with a scriptable FIFO of failure steps. Plain node:http keeps it cheap enough
 * to serve as the latency baseline for benchmarks.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { embedOpenAI, embedGemini } from './embeddings.js';
import { Gone, readBody, sendJson, sleep, writeAsync } from './io.js';
import { openaiErrorBody } from './openai.js';
import { buildPlan, newId } from './reply.js';
import { adapters, authFailure, idHeaders, invalidBody, modelList, protocolOf, route } from './routes.js';
import { validateGeminiEmbed, validateOpenAIEmbeddings } from './shapes.js';
import { StepSchema } from './types.js';
import type { ChatAdapter, ChatContext, Frame, Plan, Protocol, ReceivedRequest, Step } from './types.js';

export type { Step, ReceivedRequest, Protocol } from './types.js';

export interface FakeProvider {
  /** e.g. http://127.0.0.1:40123 (no trailing slash) */
  url: string;
  /** Global FIFO, one step consumed per chat/messages/generateContent request. */
  script(...steps: Step[]): void;
  /** Per-model FIFO (body model, Azure deployment or Gemini URL model), checked before the global queue. */
  scriptFor(model: string, ...steps: Step[]): void;
  requests: ReceivedRequest[];
  /** Every request that broke its provider's contract (shape, auth headers, unknown route). */
  violations: string[];
  /** Releases all requests currently held by a 'hold' step. */
  release(): void;
  /** Number of requests currently parked by a 'hold' step. */
  readonly held: number;
  /** Requests whose response has neither finished nor been abandoned by the client (held, stalled, timing out, streaming). */
  readonly openRequests: number;
  /** Scripted steps not consumed yet (global + per-model). */
  pendingSteps(): number;
  reset(): void;
  close(): Promise<void>;
}

const ScriptBody = z.strictObject({ model: z.string().optional(), steps: z.array(StepSchema) });

export async function startFakeProvider(opts: { port?: number; host?: string } = {}): Promise<FakeProvider> {
  const globalQueue: Step[] = [];
  const modelQueues = new Map<string, Step[]>();
  const held = new Set<() => void>();
  const sockets = new Set<Socket>();
  let open = 0;

  const takeStep = (model: string): Step | undefined => modelQueues.get(model)?.shift() ?? globalQueue.shift();

  const fake: FakeProvider = {
    url: '',
    requests: [],
    violations: [],
    script: (...steps) => void globalQueue.push(...steps),
    scriptFor(model, ...steps) {
      const q = modelQueues.get(model) ?? [];
      q.push(...steps);
      modelQueues.set(model, q);
    },
    release() {
      const waiting = [...held];
      held.clear();
      waiting.forEach((r) => r());
    },
    get held() {
      return held.size;
    },
    get openRequests() {
      return open;
    },
    pendingSteps: () => globalQueue.length + [...modelQueues.values()].reduce((n, q) => n + q.length, 0),
    reset() {
      globalQueue.length = 0;
      modelQueues.clear();
      fake.requests.length = 0;
      fake.violations.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fake.release();
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      }),
  };

  const violation = (protocol: Protocol | 'unknown', method: string, path: string, issues: string[]) =>
    fake.violations.push(`${protocol} ${method} ${path}: ${issues.join('; ')}`);

  async function streamFrames(res: ServerResponse, frames: Frame[], plan: Plan, signal: Gone, limit?: number): Promise<void> {
    let sent = 0;
    let buffered = '';
    for (const frame of frames) {
      if (limit !== undefined) {
        if (frame.kind === 'final') break;
        if (frame.kind === 'content' && sent === limit) break;
      }
      if (frame.kind === 'content') {
        if (sent > 0 && plan.tokenDelayMs > 0) {
          await writeAsync(res, buffered);
          buffered = '';
          await sleep(plan.tokenDelayMs, signal);
          if (signal.aborted) return;
        }
        sent++;
      }
      buffered += frame.data;
    }
    if (buffered) await writeAsync(res, buffered);
  }

  /** What a careless upstream repeats back: every credential header it got, and a `key` query parameter. */
  function credentialsOf(req: IncomingMessage): string {
    const names = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key'];
    const parts = names.filter((n) => req.headers[n] !== undefined).map((n) => `${n}=${String(req.headers[n])}`);
    const key = new URL(req.url ?? '/', 'http://fake').searchParams.get('key');
    if (key) parts.push(`key=${key}`);
    return parts.join(' ') || 'no credentials';
  }

  async function handleChat(
    req: IncomingMessage,
    res: ServerResponse,
    adapter: ChatAdapter,
    normalized: any,
    ctx: ChatContext,
    step: Step | undefined,
    signal: Gone,
  ): Promise<void> {
    const conv = adapter.conversation(normalized);
    const ids = idHeaders(adapter.protocol, ctx.requestId);
    let plan: Plan;
    let delayMs = 0;
    switch (step?.kind) {
      case undefined:
        plan = buildPlan(conv);
        break;
      case 'reply':
        plan = buildPlan(conv, step);
        delayMs = step.delayMs ?? 0;
        break;
      case 'error': {
        const echoed = step.echoCredentials ? `${credentialsOf(req)} for prompt "${conv.lastUserText.slice(0, 200)}"` : undefined;
        const err = adapter.error(echoed ? { ...step, message: `${step.message ?? 'request rejected'}; received ${echoed}` } : step, ctx);
        const headers: Record<string, string> = { ...ids, ...err.headers, ...(echoed && { 'x-echo-credentials': echoed }) };
        if (step.retryAfter !== undefined) headers['retry-after'] = step.retryAfter;
        if (step.retryAfterMs !== undefined) headers['retry-after-ms'] = String(step.retryAfterMs);
        if (step.msRetryAfter !== undefined) headers['x-ms-retry-after-ms'] = String(step.msRetryAfter);
        return sendJson(res, err.status, err.body, headers);
      }
      case 'timeout':
        return; // never answered; the socket dies with the client or close()
      case 'delay':
        plan = buildPlan(conv, step);
        delayMs = step.ms;
        break;
      case 'hold':
        plan = buildPlan(conv, step);
        await new Promise<void>((resolve) => {
          held.add(resolve);
          signal.on(() => held.delete(resolve) && resolve());
        });
        break;
      default:
        plan = buildPlan(conv, step);
    }
    await sleep(delayMs, signal);
    if (signal.aborted) return;

    if (!ctx.stream) {
      if (step?.kind === 'stall') return;
      if (step?.kind === 'cut') return void req.socket.destroy();
      if (step?.kind === 'midstream-error') {
        const err = adapter.error({ kind: 'error', status: adapter.protocol === 'anthropic' ? 529 : 500 }, ctx);
        return sendJson(res, err.status, err.body, ids);
      }
      // A non-streamed answer still takes as long as generating its tokens would.
      await sleep(plan.tokenDelayMs * plan.completionTokens, signal);
      if (signal.aborted) return;
      return sendJson(res, 200, adapter.json(plan, ctx), ids);
    }

    res.writeHead(200, { ...ids, 'content-type': adapter.streamContentType(ctx), 'cache-control': 'no-cache' });
    const frames = adapter.frames(plan, ctx);
    if (plan.tokenDelayMs === 0 && (step === undefined || step.kind === 'reply' || step.kind === 'delay' || step.kind === 'hold')) {
      // Fast path: headers and every event leave in one write.
      let all = '';
      for (const f of frames) all += f.data;
      res.end(all);
      return;
    }
    res.flushHeaders();
    switch (step?.kind) {
      case 'stall':
        return streamFrames(res, frames, plan, signal, step.afterChunks);
      case 'cut':
        await streamFrames(res, frames, plan, signal, step.afterChunks);
        // Destroy only after the partial data reached the kernel, so afterChunks is exact.
        return void req.socket.destroy();
      case 'midstream-error': {
        await streamFrames(res, frames, plan, signal, step.afterChunks);
        const event = adapter.midstreamError(ctx, step.echoCredentials ? `stream failed; received ${credentialsOf(req)}` : undefined);
        if (event === undefined) return void req.socket.destroy();
        res.end(event);
        return;
      }
      default:
        await streamFrames(res, frames, plan, signal);
        if (!res.destroyed) res.end();
    }
  }

  function handleControl(name: string, body: string, res: ServerResponse): void {
    if (name === 'POST /__script') {
      let parsed: z.ZodSafeParseResult<z.infer<typeof ScriptBody>>;
      try {
        parsed = ScriptBody.safeParse(JSON.parse(body || '{}'));
      } catch {
        return sendJson(res, 400, { error: 'invalid JSON' });
      }
      if (!parsed.success) return sendJson(res, 400, { error: z.prettifyError(parsed.error) });
      const { model, steps } = parsed.data;
      if (model === undefined) fake.script(...steps);
      else fake.scriptFor(model, ...steps);
      return sendJson(res, 200, { ok: true, pending: fake.pendingSteps() });
    }
    if (name === 'POST /__release') {
      const released = fake.held;
      fake.release();
      return sendJson(res, 200, { ok: true, released });
    }
    if (name === 'POST /__reset') {
      fake.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (name === 'GET /__requests') return sendJson(res, 200, { requests: fake.requests, violations: fake.violations });
    sendJson(res, 404, { error: `unknown control endpoint ${name}` });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const gone = new Gone();
    open++;
    res.on('close', () => {
      open--;
      gone.fire();
    });
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query: Record<string, string> = q < 0 ? {} : Object.fromEntries(new URLSearchParams(rawUrl.slice(q + 1)));

    const raw = await readBody(req);
    if (raw === undefined) return; // client went away mid-upload; nothing to answer

    const r = route(method, path);
    if (!r) {
      violation('unknown', method, path, ['no such route']);
      return sendJson(res, 404, openaiErrorBody(404, `Unknown request URL: ${method} ${path}`, 'unknown_url'));
    }
    if (r.type === 'control') return handleControl(r.name, raw, res);

    // GET /v1/models exists in both OpenAI and Anthropic; the version header tells them apart.
    const protocol = r.type === 'models' && req.headers['anthropic-version'] ? 'anthropic' : protocolOf(r)!;
    const requestId = `req_${newId()}`;
    let body: any;
    let jsonError: string | undefined;
    if (method === 'POST') {
      try {
        body = JSON.parse(raw);
      } catch (e) {
        body = raw;
        jsonError = `body is not valid JSON: ${(e as Error).message}`;
      }
    }
    const bodyModel = typeof body?.model === 'string' ? (body.model as string) : '';
    const model = (r.type !== 'models' && r.urlModel) || bodyModel;
    const stream = r.type === 'chat' && (r.urlStream ?? body?.stream === true);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const kind = r.type === 'chat' ? 'chat' : r.type === 'models' ? 'models' : 'embeddings';
    fake.requests.push({ protocol, kind, method, path, query, model, headers, body, stream });

    const auth = authFailure(protocol, req.headers, query, requestId);
    if (auth) {
      violation(protocol, method, path, [JSON.stringify(auth.body)]);
      return sendJson(res, auth.status, auth.body, idHeaders(protocol, requestId));
    }
    if (jsonError) {
      violation(protocol, method, path, [jsonError]);
      return sendJson(res, 400, invalidBody(protocol, [jsonError], requestId), idHeaders(protocol, requestId));
    }

    if (r.type === 'models') return sendJson(res, 200, modelList(protocol), idHeaders(protocol, requestId));
    if (r.type === 'embeddings') {
      const issues = validateOpenAIEmbeddings(body, r.protocol === 'azure');
      if (issues.length) {
        violation(protocol, method, path, issues);
        return sendJson(res, 400, invalidBody(protocol, issues, requestId), idHeaders(protocol, requestId));
      }
      return sendJson(res, 200, embedOpenAI(body, model), idHeaders(protocol, requestId));
    }
    if (r.type === 'gemini-embed') {
      const { issues, normalized } = validateGeminiEmbed(body, r.batch, r.urlModel);
      if (issues.length) {
        violation(protocol, method, path, issues);
        return sendJson(res, 400, invalidBody(protocol, issues, requestId));
      }
      return sendJson(res, 200, embedGemini(normalized, r.batch));
    }

    const adapter = adapters[protocol];
    const { issues, normalized } = adapter.validate(body);
    if (issues.length) {
      violation(protocol, method, path, issues);
      return sendJson(res, 400, invalidBody(protocol, issues, requestId), idHeaders(protocol, requestId));
    }
    const ctx: ChatContext = { model, stream, body: normalized, requestId, sse: query.alt === 'sse' };
    await handleChat(req, res, adapter, normalized, ctx, takeStep(model), gone);
  }

  const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      fake.violations.push(`fake provider internal error: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'fake provider internal error' } });
      else res.destroy();
    });
  });
  // Longer than typical client pools' idle timeouts, so the client, not us, decides when to drop.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  fake.url = `http://${host}:${addr.port}`;
  return fake;
}
