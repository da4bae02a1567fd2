import { z } from 'zod';

export type Protocol = 'openai' | 'azure' | 'anthropic' | 'gemini';
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

const finishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter']);
const afterChunks = z.number().int().min(0);
// Failure steps may carry their own text so a test can control how many content events exist.
const shaped = { text: z.string().optional(), tokenDelayMs: z.number().min(0).optional() };

/** Single source for the Step type and for validating steps posted to `POST /__script`. */
export const StepSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('reply'),
    text: z.string().optional(),
    toolCalls: z.array(z.strictObject({ name: z.string(), arguments: z.string() })).optional(),
    finishReason: finishReason.optional(),
    tokenDelayMs: z.number().min(0).optional(),
    delayMs: z.number().min(0).optional(),
  }),
  z.strictObject({
    kind: z.literal('error'),
    status: z.number().int().min(400).max(599),
    retryAfter: z.string().optional(),
    retryAfterMs: z.number().min(0).optional(),
    msRetryAfter: z.number().min(0).optional(),
    code: z.string().optional(),
    message: z.string().optional(),
    /** Like some proxies and self-hosted servers: the error text (and a header) repeats the credentials and prompt received. */
    echoCredentials: z.boolean().optional(),
  }),
  z.strictObject({ kind: z.literal('timeout') }),
  z.strictObject({ kind: z.literal('delay'), ms: z.number().min(0), ...shaped }),
  z.strictObject({ kind: z.literal('stall'), afterChunks, ...shaped }),
  z.strictObject({ kind: z.literal('cut'), afterChunks, ...shaped }),
  z.strictObject({ kind: z.literal('midstream-error'), afterChunks, ...shaped, echoCredentials: z.boolean().optional() }),
  z.strictObject({ kind: z.literal('hold'), ...shaped }),
]);

export type Step = z.infer<typeof StepSchema>;
export type ErrorStep = Extract<Step, { kind: 'error' }>;
export type ReplyStep = Extract<Step, { kind: 'reply' }>;

export interface ReceivedRequest {
  protocol: Protocol;
  /** Which endpoint family was hit; only 'chat' requests consume script steps. */
  kind: 'chat' | 'embeddings' | 'models';
  method: string;
  /** Path without the query string; see `query`. */
  path: string;
  query: Record<string, string>;
  model: string;
  headers: Record<string, string>;
  body: unknown;
  stream: boolean;
}

/** What a reply needs to know about a request, extracted per protocol. */
export interface Conversation {
  lastUserText: string;
  promptTokens: number;
  hasTools: boolean;
  toolsDisabled: boolean;
  /** True when the final turn is the human speaking (not a tool result), i.e. a tool call may follow. */
  endsWithUserText: boolean;
  maxTokens?: number | undefined;
  logprobs: boolean;
}

export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
  fragments: string[];
}

export interface Plan {
  text: string;
  pieces: string[];
  toolCalls: PlannedToolCall[];
  finish: FinishReason;
  promptTokens: number;
  completionTokens: number;
  logprobs: boolean;
  tokenDelayMs: number;
}

/**
 * One serialized stream event. `content` events are what afterChunks counts; `final` events
 * (finish / stop markers) are never sent by stall/cut/midstream-error steps.
 */
export interface Frame {
  data: string;
  kind: 'pre' | 'content' | 'mid' | 'final';
}

export interface ChatContext {
  model: string;
  stream: boolean;
  body: any;
  requestId: string;
  /** Gemini only: SSE (`alt=sse`) vs. the default JSON-array stream framing. */
  sse: boolean;
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface ChatAdapter {
  protocol: Protocol;
  validate(body: unknown): { issues: string[]; normalized: any };
  conversation(body: any): Conversation;
  error(step: ErrorStep, ctx: { requestId: string }): ErrorResponse;
  json(plan: Plan, ctx: ChatContext): unknown;
  streamContentType(ctx: ChatContext): string;
  frames(plan: Plan, ctx: ChatContext): Frame[];
  /** An in-band error event; undefined means the protocol has none and the socket is cut instead. */
  midstreamError(ctx: ChatContext, message?: string): string | undefined;
}
