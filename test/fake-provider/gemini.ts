/** Gemini API (generativelanguage v1beta) generateContent / streamGenerateContent wire format. */
import { logprobAt, newId, parseArgs, promptTokensOf } from './reply.js';
import { validateGeminiGenerate } from './shapes.js';
import type { ChatAdapter, ChatContext, Conversation, ErrorStep, FinishReason, Frame, Plan } from './types.js';

type Part = Record<string, any>;
type Content = { role?: string; parts: Part[] };

function stringLeaves(v: unknown, out: string[]): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => stringLeaves(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => stringLeaves(x, out));
  return out;
}

const textOf = (c: Content | undefined) => (c?.parts ?? []).filter((p) => typeof p.text === 'string').map((p) => p.text as string);

/** Expects the camelized body produced by validation. */
export function geminiConversation(body: any): Conversation {
  const contents: Content[] = body.contents ?? [];
  const texts = [...textOf(body.systemInstruction)];
  // Tool results count like OpenAI tool messages do, so usage matches across protocols.
  for (const c of contents)
    for (const p of c.parts) {
      if (p.functionResponse) stringLeaves(p.functionResponse.response, texts);
      else if (typeof p.text === 'string') texts.push(p.text);
    }
  const isUser = (c: Content | undefined) => c !== undefined && c.role !== 'model';
  const lastUser = [...contents].reverse().find((c) => isUser(c) && textOf(c).length > 0);
  const last = contents[contents.length - 1];
  return {
    lastUserText: textOf(lastUser).join(' '),
    promptTokens: promptTokensOf(texts),
    hasTools: (body.tools ?? []).some((t: any) => (t.functionDeclarations?.length ?? 0) > 0),
    toolsDisabled: body.toolConfig?.functionCallingConfig?.mode === 'NONE',
    endsWithUserText: isUser(last) && !last!.parts.some((p) => p.functionResponse),
    maxTokens: body.generationConfig?.maxOutputTokens,
    logprobs: body.generationConfig?.responseLogprobs === true,
  };
}

const STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};
const MESSAGES: Record<string, string> = {
  RESOURCE_EXHAUSTED: 'Resource has been exhausted (e.g. check quota).',
  INTERNAL: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  UNAVAILABLE: 'The model is overloaded. Please try again later.',
  INVALID_ARGUMENT: 'Request contains an invalid argument.',
  DEADLINE_EXCEEDED: 'Deadline expired before operation could complete.',
};

export function geminiErrorBody(status: number, message?: string, code?: string, retryDelaySeconds?: number) {
  const s = code ?? STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
  const error: Record<string, unknown> = { code: status, message: message ?? MESSAGES[s] ?? s, status: s };
  // Gemini conveys the retry delay in a google.rpc.RetryInfo detail, not only in headers.
  if (retryDelaySeconds !== undefined)
    error.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryDelaySeconds}s` }];
  return { error };
}

function retryDelayOf(step: ErrorStep): number | undefined {
  if (step.retryAfterMs !== undefined) return Math.ceil(step.retryAfterMs / 1000);
  const n = step.retryAfter === undefined ? NaN : Number(step.retryAfter);
  return Number.isFinite(n) ? n : undefined;
}

const FINISH: Record<FinishReason, string> = { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', content_filter: 'SAFETY' };

function usageMetadata(plan: Plan, completion: number) {
  return {
    promptTokenCount: plan.promptTokens,
    candidatesTokenCount: completion,
    totalTokenCount: plan.promptTokens + completion,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: plan.promptTokens }],
  };
}

function logprobFields(pieces: string[], offset: number) {
  const chosen = pieces.map((token, i) => ({ token, logProbability: logprobAt(offset + i) }));
  const avg = chosen.length ? chosen.reduce((s, c) => s + c.logProbability, 0) / chosen.length : 0;
  return { avgLogprobs: avg, logprobsResult: { topCandidates: [], chosenCandidates: chosen } };
}

const callParts = (plan: Plan): Part[] => plan.toolCalls.map((c) => ({ functionCall: { name: c.name, args: parseArgs(c.arguments) } }));

export const geminiAdapter: ChatAdapter = {
  protocol: 'gemini',
  validate: validateGeminiGenerate,
  conversation: geminiConversation,

  error(step: ErrorStep) {
    return { status: step.status, headers: {}, body: geminiErrorBody(step.status, step.message, step.code, retryDelayOf(step)) };
  },

  json(plan: Plan, ctx: ChatContext) {
    const parts: Part[] = plan.text !== '' || plan.toolCalls.length === 0 ? [{ text: plan.text }] : [];
    parts.push(...callParts(plan));
    return {
      candidates: [
        {
          content: { parts, role: 'model' },
          finishReason: FINISH[plan.finish],
          index: 0,
          ...(plan.logprobs ? logprobFields(plan.pieces, 0) : {}),
        },
      ],
      usageMetadata: usageMetadata(plan, plan.completionTokens),
      modelVersion: ctx.model,
      responseId: newId(22),
    };
  },

  streamContentType: (ctx) => (ctx.sse ? 'text/event-stream' : 'application/json; charset=UTF-8'),

  frames(plan: Plan, ctx: ChatContext): Frame[] {
    const responseId = newId(22);
    const chunks: Array<{ parts: Part[]; final: boolean; logprobs?: object }> = [];
    plan.pieces.forEach((text, i) =>
      chunks.push({
        parts: [{ text }],
        final: i === plan.pieces.length - 1 && plan.toolCalls.length === 0,
        ...(plan.logprobs ? { logprobs: logprobFields([text], i) } : {}),
      }),
    );
    // Function calls arrive whole, all in one chunk, never as argument fragments.
    if (plan.toolCalls.length > 0) chunks.push({ parts: callParts(plan), final: true });
    if (chunks.length === 0) chunks.push({ parts: [{ text: '' }], final: true });
    let produced = 0;
    return chunks.map((c, i) => {
      produced += c.parts[0]?.functionCall ? plan.toolCalls.reduce((n, t) => n + t.fragments.length, 0) : c.parts[0]?.text ? 1 : 0;
      const payload = JSON.stringify({
        candidates: [
          { content: { parts: c.parts, role: 'model' }, ...(c.final ? { finishReason: FINISH[plan.finish] } : {}), index: 0, ...c.logprobs },
        ],
        usageMetadata: usageMetadata(plan, produced),
        modelVersion: ctx.model,
        responseId,
      });
      // Google frames SSE events with CRLF; the JSON-array form is what the API returns without alt=sse.
      const data = ctx.sse ? `data: ${payload}\r\n\r\n` : `${i === 0 ? '[' : ',\r\n'}${payload}${c.final ? ']' : ''}`;
      return { kind: c.final ? 'final' : 'content', data };
    });
  },

  midstreamError: () => undefined,
};
