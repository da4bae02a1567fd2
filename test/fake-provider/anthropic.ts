/** Anthropic Messages API wire format. */
import { newId, parseArgs, promptTokensOf } from './reply.js';
import { validateAnthropicMessages } from './shapes.js';
import type { ChatAdapter, ChatContext, Conversation, ErrorStep, FinishReason, Frame, Plan } from './types.js';

type Block = { type: string; [k: string]: any };

function texts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  return content.flatMap((b: Block) =>
    b.type === 'text' ? [b.text as string] : b.type === 'tool_result' ? texts(b.content) : [],
  );
}

function ownText(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  return Array.isArray(content) ? content.filter((b: Block) => b.type === 'text').map((b: Block) => b.text as string) : [];
}

export function anthropicConversation(body: any): Conversation {
  const messages: Array<{ role: string; content: unknown }> = body.messages ?? [];
  const lastUser = [...messages].reverse().find((m) => m.role === 'user' && ownText(m.content).length > 0);
  const last = messages[messages.length - 1];
  const lastHasResults = Array.isArray(last?.content) && last.content.some((b: Block) => b.type === 'tool_result');
  return {
    lastUserText: lastUser ? ownText(lastUser.content).join(' ') : '',
    promptTokens: promptTokensOf([...texts(body.system), ...messages.flatMap((m) => texts(m.content))]),
    hasTools: (body.tools?.length ?? 0) > 0,
    toolsDisabled: body.tool_choice?.type === 'none',
    endsWithUserText: last?.role === 'user' && !lastHasResults,
    maxTokens: body.max_tokens,
    logprobs: false,
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};
const ERROR_MESSAGES: Record<string, string> = {
  authentication_error: 'invalid x-api-key',
  not_found_error: 'Not found',
  rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit',
  api_error: 'Internal server error',
  overloaded_error: 'Overloaded',
};

export function anthropicErrorBody(status: number, requestId: string, message?: string, type?: string) {
  const t = type ?? ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { type: 'error', error: { type: t, message: message ?? ERROR_MESSAGES[t] ?? 'Invalid request' }, request_id: requestId };
}

const STOP: Record<FinishReason, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal' };

const sse = (payload: { type: string; [k: string]: unknown }) => `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`;

function usage(plan: Plan, output: number) {
  return {
    input_tokens: plan.promptTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: output,
    service_tier: 'standard',
  };
}

// A text block is sent when there is text, or when there is nothing else to send.
const hasTextBlock = (plan: Plan) => plan.text !== '' || plan.toolCalls.length === 0;

export const anthropicAdapter: ChatAdapter = {
  protocol: 'anthropic',
  validate: (body) => ({ issues: validateAnthropicMessages(body), normalized: body }),
  conversation: anthropicConversation,

  error: (step: ErrorStep, ctx) => ({
    status: step.status,
    headers: {},
    body: anthropicErrorBody(step.status, ctx.requestId, step.message, step.code),
  }),

  json(plan: Plan, ctx: ChatContext) {
    const content: Block[] = [];
    if (hasTextBlock(plan)) content.push({ type: 'text', text: plan.text });
    for (const c of plan.toolCalls) content.push({ type: 'tool_use', id: `toolu_${c.id}`, name: c.name, input: parseArgs(c.arguments) });
    return {
      id: `msg_${newId()}`,
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content,
      stop_reason: STOP[plan.finish],
      stop_sequence: null,
      usage: usage(plan, plan.completionTokens),
    };
  },

  streamContentType: () => 'text/event-stream; charset=utf-8',

  frames(plan: Plan, ctx: ChatContext): Frame[] {
    const frames: Frame[] = [
      {
        kind: 'pre',
        data: sse({
          type: 'message_start',
          message: {
            id: `msg_${newId()}`,
            type: 'message',
            role: 'assistant',
            model: ctx.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: usage(plan, 1),
          },
        }),
      },
    ];
    let index = 0;
    const block = (contentBlock: Block, deltas: Block[]) => {
      const first = index === 0;
      frames.push({ kind: first ? 'pre' : 'mid', data: sse({ type: 'content_block_start', index, content_block: contentBlock }) });
      if (first) frames.push({ kind: 'pre', data: sse({ type: 'ping' }) });
      for (const delta of deltas)
        frames.push({ kind: 'content', data: sse({ type: 'content_block_delta', index, delta }) });
      frames.push({ kind: 'mid', data: sse({ type: 'content_block_stop', index }) });
      index++;
    };
    if (hasTextBlock(plan))
      block(
        { type: 'text', text: '' },
        plan.pieces.map((text) => ({ type: 'text_delta', text })),
      );
    for (const c of plan.toolCalls)
      block(
        { type: 'tool_use', id: `toolu_${c.id}`, name: c.name, input: {} },
        c.fragments.map((partial_json) => ({ type: 'input_json_delta', partial_json })),
      );
    frames.push({
      kind: 'final',
      data: sse({
        type: 'message_delta',
        delta: { stop_reason: STOP[plan.finish], stop_sequence: null },
        usage: { output_tokens: plan.completionTokens },
      }),
    });
    frames.push({ kind: 'final', data: sse({ type: 'message_stop' }) });
    return frames;
  },

  midstreamError: (ctx, message) => sse(anthropicErrorBody(529, ctx.requestId, message)),
};
