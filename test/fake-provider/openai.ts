/** OpenAI Chat Completions wire format (also served, with Azure's additions, for Azure OpenAI). */
import { logprobAt, newId, promptTokensOf } from './reply.js';
import { validateOpenAIChat } from './shapes.js';
import type { ChatAdapter, ChatContext, Conversation, ErrorStep, Frame, Plan, Protocol } from './types.js';

const FINGERPRINT = 'fp_fake0001';

function textParts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  return content.flatMap((p: any) => (p?.type === 'text' ? [p.text] : p?.type === 'refusal' ? [p.refusal] : []));
}

export function openaiConversation(body: any): Conversation {
  const messages: any[] = body.messages ?? [];
  const texts = messages.flatMap((m) => textParts(m.content));
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const last = messages[messages.length - 1];
  return {
    lastUserText: lastUser ? textParts(lastUser.content).join(' ') : '',
    promptTokens: promptTokensOf(texts),
    hasTools: (body.tools?.length ?? 0) > 0 || (body.functions?.length ?? 0) > 0,
    toolsDisabled: body.tool_choice === 'none',
    endsWithUserText: last?.role === 'user',
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    logprobs: body.logprobs === true,
  };
}

const ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist or you do not have access to it.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests. Please try again later.' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' },
  503: { type: 'server_error', code: null, message: 'The server is overloaded or not ready yet.' },
};

export function openaiErrorBody(status: number, message?: string, code?: string | null, param: string | null = null) {
  const base = ERRORS[status] ?? (status >= 500 ? ERRORS[500]! : ERRORS[400]!);
  return { error: { message: message ?? base.message, type: base.type, param, code: code === undefined ? base.code : code } };
}

const filterOk = { filtered: false, severity: 'safe' };
const azureFilters = { hate: filterOk, self_harm: filterOk, sexual: filterOk, violence: filterOk };
const azurePromptFilters = [
  { prompt_index: 0, content_filter_results: { ...azureFilters, jailbreak: { filtered: false, detected: false } } },
];

function logprobEntry(token: string, i: number) {
  return { token, logprob: logprobAt(i), bytes: [...Buffer.from(token, 'utf8')], top_logprobs: [] };
}

function usageOf(plan: Plan) {
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: plan.completionTokens,
    total_tokens: plan.promptTokens + plan.completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export function createOpenAIAdapter(protocol: Extract<Protocol, 'openai' | 'azure'>): ChatAdapter {
  const azure = protocol === 'azure';
  return {
    protocol,
    validate: (body) => ({ issues: validateOpenAIChat(body, azure), normalized: body }),
    conversation: openaiConversation,

    error(step: ErrorStep) {
      const param = step.code === 'context_length_exceeded' ? 'messages' : null;
      return { status: step.status, headers: {}, body: openaiErrorBody(step.status, step.message, step.code, param) };
    },

    json(plan: Plan, ctx: ChatContext) {
      const message: Record<string, unknown> = {
        role: 'assistant',
        content: plan.text === '' && plan.toolCalls.length > 0 ? null : plan.text,
        refusal: null,
        annotations: [],
      };
      if (plan.toolCalls.length > 0)
        message.tool_calls = plan.toolCalls.map((c) => ({
          id: `call_${c.id}`,
          type: 'function',
          function: { name: c.name, arguments: c.arguments },
        }));
      const logprobs = plan.logprobs ? { content: plan.pieces.map(logprobEntry), refusal: null } : null;
      return {
        id: `chatcmpl-${newId(29)}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: ctx.model,
        ...(azure ? { prompt_filter_results: azurePromptFilters } : {}),
        choices: [
          {
            index: 0,
            message,
            logprobs,
            finish_reason: plan.finish,
            ...(azure ? { content_filter_results: azureFilters } : {}),
          },
        ],
        usage: usageOf(plan),
        service_tier: 'default',
        system_fingerprint: FINGERPRINT,
      };
    },

    streamContentType: () => 'text/event-stream; charset=utf-8',

    frames(plan: Plan, ctx: ChatContext): Frame[] {
      const includeUsage = ctx.body.stream_options?.include_usage === true;
      const id = `chatcmpl-${newId(29)}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (choices: unknown[], extra?: Record<string, unknown>) =>
        `data: ${JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model: ctx.model,
          service_tier: 'default',
          system_fingerprint: FINGERPRINT,
          choices,
          ...(includeUsage ? { usage: null } : {}),
          ...extra,
        })}\n\n`;
      const choice = (delta: unknown, finish: string | null = null, logprobs: unknown = null) => [
        { index: 0, delta, logprobs, finish_reason: finish },
      ];
      const frames: Frame[] = [];
      // Azure sends its prompt-filter verdict first, in a chunk with no choices at all.
      if (azure)
        frames.push({
          kind: 'pre',
          data: `data: ${JSON.stringify({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: azurePromptFilters })}\n\n`,
        });
      frames.push({ kind: 'pre', data: chunk(choice({ role: 'assistant', content: '', refusal: null })) });
      plan.pieces.forEach((piece, i) => {
        const lp = plan.logprobs ? { content: [logprobEntry(piece, i)], refusal: null } : null;
        frames.push({ kind: 'content', data: chunk(choice({ content: piece }, null, lp)) });
      });
      plan.toolCalls.forEach((c, index) => {
        const head = { index, id: `call_${c.id}`, type: 'function', function: { name: c.name, arguments: '' } };
        frames.push({ kind: 'content', data: chunk(choice({ tool_calls: [head] })) });
        for (const fragment of c.fragments)
          frames.push({ kind: 'content', data: chunk(choice({ tool_calls: [{ index, function: { arguments: fragment } }] })) });
      });
      frames.push({ kind: 'final', data: chunk(choice({}, plan.finish)) });
      if (includeUsage) frames.push({ kind: 'final', data: chunk([], { usage: usageOf(plan) }) });
      frames.push({ kind: 'final', data: 'data: [DONE]\n\n' });
      return frames;
    },

    midstreamError: (_ctx, message) => `data: ${JSON.stringify(openaiErrorBody(500, message))}\n\n`,
  };
}
