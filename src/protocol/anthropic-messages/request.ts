/**
 * Anthropic's Messages API request, as clients send it to the gateway, and its translation to the canonical
 * (OpenAI chat) request. Pure. The schema does every check, so the translation never fails: a request that
 * passes validation can be served by any provider family.
 */
import { z } from 'zod';
import { formatPath } from '../../config/load.js';
import type { ChatMessage, ChatRequest, FunctionTool, UserContentPart } from '../chat-request.js';

// Unknown keys (cache_control, citations, ...) are stripped rather than rejected: they tune Anthropic's own
// service and have no meaning once the request may go to another provider.
const textBlock = z.object({ type: z.literal('text'), text: z.string() });

const imageSource = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('base64'),
    media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
    data: z.string().min(1),
  }),
  z.object({ type: z.literal('url'), url: z.string().regex(/^https?:\/\//i, 'must be an http(s) URL') }),
]);
const imageBlock = z.object({ type: z.literal('image'), source: imageSource });

const documentSource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('base64'), media_type: z.literal('application/pdf'), data: z.string().min(1) }),
  z.object({ type: z.literal('text'), media_type: z.literal('text/plain'), data: z.string() }),
  // The canonical form carries files inline only, and fetching URLs on the client's behalf is not our job.
  z.object({ type: z.literal('url'), url: z.string() }).refine(() => false, 'document URL sources are not supported here; send the PDF as base64'),
]);
const documentBlock = z.object({ type: z.literal('document'), source: documentSource, title: z.string().nullish() });

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});
const toolResultBlock = z.object({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textBlock, imageBlock]))]).optional(),
  is_error: z.boolean().optional(),
});

const userBlock = z.discriminatedUnion('type', [textBlock, imageBlock, documentBlock, toolResultBlock]);
const assistantBlock = z.discriminatedUnion('type', [textBlock, toolUseBlock]);

const message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('user'), content: z.union([z.string(), z.array(userBlock).min(1)]) }),
  z.object({ role: z.literal('assistant'), content: z.union([z.string(), z.array(assistantBlock)]) }),
]);

const tool = z.object({
  type: z.literal('custom').optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
});

const noParallel = { disable_parallel_tool_use: z.boolean().optional() };
const toolChoice = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), ...noParallel }),
  z.object({ type: z.literal('any'), ...noParallel }),
  z.object({ type: z.literal('tool'), name: z.string().min(1), ...noParallel }),
  z.object({ type: z.literal('none') }),
]);

export const messagesRequestSchema = z.object({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  messages: z.array(message).min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  // Accepted for compatibility; the canonical form has no top_k, so no upstream receives it.
  top_k: z.number().int().min(0).optional(),
  metadata: z.object({ user_id: z.string().nullish() }).optional(),
  stream: z.boolean().optional(),
}).superRefine((req, ctx) => {
  const problem = toolChoiceProblem(req.tool_choice, req.tools?.map((t) => t.name));
  if (problem) ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: problem });
});

/**
 * Why a tool choice cannot be honoured; undefined when it can. `auto` and `none` need no tools (they are dropped
 * when there are none); `any` and `tool` force a call, which no upstream can make without the tool.
 */
function toolChoiceProblem(choice: z.infer<typeof toolChoice> | undefined, tools: string[] | undefined): string | undefined {
  if (choice === undefined || choice.type === 'auto' || choice.type === 'none') return undefined;
  if (!tools || tools.length === 0) return `tool_choice '${choice.type}' needs at least one tool in 'tools'`;
  if (choice.type === 'tool' && !tools.includes(choice.name)) return `no tool named '${choice.name}' is in 'tools'`;
  return undefined;
}

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
type UserBlock = z.infer<typeof userBlock>;
type AssistantBlock = z.infer<typeof assistantBlock>;
type TextPart = { type: 'text'; text: string };

/**
 * The problem to report: for a union (string or blocks, one of several block types) the branch that got
 * furthest into the value is the one the client meant, so its issue names the precise field.
 */
export function firstProblem(err: z.ZodError): { path: string; message: string } {
  let issues: readonly z.core.$ZodIssue[] = err.issues;
  let base: PropertyKey[] = [];
  for (;;) {
    const issue = issues[0]!;
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const depth = (branch: readonly z.core.$ZodIssue[]) => Math.max(0, ...branch.map((i) => i.path.length));
      const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
      if (depth(best) > 0) {
        base = [...base, ...issue.path];
        issues = best;
        continue;
      }
    }
    return { path: formatPath([...base, ...issue.path]), message: issue.message };
  }
}

function imagePart(source: z.infer<typeof imageSource>): UserContentPart {
  const url = source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
  return { type: 'image_url', image_url: { url } };
}

function documentPart(block: z.infer<typeof documentBlock>): UserContentPart {
  const { source } = block;
  if (source.type === 'text') return { type: 'text', text: source.data };
  if (source.type === 'url') throw new Error('unreachable: rejected by the schema');
  return { type: 'file', file: { file_data: `data:${source.media_type};base64,${source.data}`, filename: block.title || 'document.pdf' } };
}

/** The canonical tool message has no error flag; saying so in the text keeps the signal for the model. */
function toolResultContent(block: z.infer<typeof toolResultBlock>): string | TextPart[] {
  const mark = block.is_error ? 'Error: ' : '';
  const content = block.content ?? '';
  if (typeof content === 'string') return mark + content;
  const texts = content.flatMap((b) => (b.type === 'text' ? [b.text] : []));
  if (texts.length <= 1) return mark + (texts[0] ?? '');
  return texts.map((text, i) => ({ type: 'text', text: i === 0 ? mark + text : text }));
}

/**
 * One Anthropic user turn becomes its tool results as `tool` messages, then one user message with the rest:
 * OpenAI-family upstreams reject anything between an assistant's tool calls and their results. Images a
 * tool returned have no place in a `tool` message, so they travel in that following user message.
 */
function userMessages(content: string | UserBlock[]): ChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const out: ChatMessage[] = [];
  const parts: UserContentPart[] = [];
  for (const block of content) {
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: block.text });
        break;
      case 'image':
        parts.push(imagePart(block.source));
        break;
      case 'document':
        parts.push(documentPart(block));
        break;
      case 'tool_result':
        out.push({ role: 'tool', tool_call_id: block.tool_use_id, content: toolResultContent(block) });
        if (Array.isArray(block.content)) for (const b of block.content) if (b.type === 'image') parts.push(imagePart(b.source));
        break;
    }
  }
  if (parts.length > 0) out.push({ role: 'user', content: parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text : parts });
  return out;
}

function assistantMessage(content: string | AssistantBlock[]): ChatMessage {
  if (typeof content === 'string') return { role: 'assistant', content };
  let text = '';
  const calls = [];
  for (const block of content) {
    if (block.type === 'text') text += block.text;
    else calls.push({ id: block.id, type: 'function' as const, function: { name: block.name, arguments: JSON.stringify(block.input) } });
  }
  return calls.length > 0 ? { role: 'assistant', content: text || null, tool_calls: calls } : { role: 'assistant', content: text };
}

function systemMessage(system: MessagesRequest['system']): ChatMessage | undefined {
  if (system === undefined || system.length === 0) return undefined;
  return { role: 'system', content: typeof system === 'string' ? system : system.map((b) => ({ type: 'text', text: b.text })) };
}

function toolChoiceOf(choice: NonNullable<MessagesRequest['tool_choice']>): ChatRequest['tool_choice'] {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
  }
}

export function toCanonical(req: MessagesRequest): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = systemMessage(req.system);
  if (system) messages.push(system);
  for (const m of req.messages) {
    if (m.role === 'user') messages.push(...userMessages(m.content));
    else messages.push(assistantMessage(m.content));
  }
  const out: ChatRequest = { model: req.model, messages, max_tokens: req.max_tokens };
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map(
      (t): FunctionTool => ({
        type: 'function',
        function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.input_schema },
      }),
    );
    // Only with tools: OpenAI rejects tool_choice and parallel_tool_calls when there is nothing to call.
    if (req.tool_choice) {
      out.tool_choice = toolChoiceOf(req.tool_choice);
      if ('disable_parallel_tool_use' in req.tool_choice && req.tool_choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
    }
  }
  if (req.stop_sequences && req.stop_sequences.length > 0) out.stop = req.stop_sequences;
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (req.stream) out.stream = true;
  return out;
}
