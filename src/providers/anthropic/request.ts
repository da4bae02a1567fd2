/**
 * Canonical chat request to an Anthropic Messages request. Pure: no I/O, no clock.
 * Only fields Anthropic documents are emitted; OpenAI-only parameters with no equivalent (seed, penalties,
 * logprobs, OpenAI's own `metadata`) are dropped rather than forwarded, since Anthropic rejects unknown fields.
 * `user` becomes `metadata.user_id` only when the alias allows it, and fields outside the canonical request go
 * only when the alias lists them (upstream-fields.ts).
 */
import { contentText, requestedMaxTokens, type ChatRequest } from '../../protocol/chat-request.js';
import { ProviderError } from '../errors.js';
import type { Target } from '../types.js';
import { addPassthrough, CHAT_FIELDS, translates } from '../upstream-fields.js';
import { assistantBlocks, toolUseId, userBlocks } from './content.js';
import type { AnthropicBlock, AnthropicMessageParam, AnthropicRequest, AnthropicToolChoice } from './wire.js';

/** Anthropic requires an output budget; OpenAI does not, so one is chosen for clients that gave none. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Appends blocks, merging into the previous message when the role repeats (Anthropic wants alternation). */
function pushBlocks(out: AnthropicMessageParam[], role: 'user' | 'assistant', blocks: AnthropicBlock[]): void {
  if (blocks.length === 0) return;
  const last = out[out.length - 1];
  if (last && last.role === role) last.content.push(...blocks);
  else out.push({ role, content: blocks });
}

function translateMessages(req: ChatRequest): { system: string[]; messages: AnthropicMessageParam[] } {
  const system: string[] = [];
  const messages: AnthropicMessageParam[] = [];
  for (const msg of req.messages) {
    switch (msg.role) {
      case 'system':
      case 'developer': {
        const text = contentText(msg.content);
        if (text) system.push(text);
        break;
      }
      case 'user':
        pushBlocks(messages, 'user', userBlocks(msg.content));
        break;
      case 'assistant':
        pushBlocks(messages, 'assistant', assistantBlocks(msg));
        break;
      case 'tool':
        // Tool results travel in a user turn; consecutive results merge into that one turn, as Anthropic
        // expects every result for a parallel call batch in the message right after the tool_use blocks.
        pushBlocks(messages, 'user', [
          { type: 'tool_result', tool_use_id: toolUseId(msg.tool_call_id), content: contentText(msg.content) },
        ]);
        break;
    }
  }
  return { system, messages };
}

/** Anthropic has no JSON mode; the closest faithful translation is an explicit instruction. */
function jsonInstruction(format: ChatRequest['response_format']): string | undefined {
  if (format?.type === 'json_object') {
    return 'Respond with a single valid JSON object and nothing else: no prose, no markdown code fences.';
  }
  if (format?.type === 'json_schema') {
    const { name, description, schema } = format.json_schema;
    const about = description ? ` (${description})` : '';
    const shape = schema ? ` It must conform to this JSON Schema named "${name}"${about}:\n${JSON.stringify(schema)}` : '';
    return `Respond with a single valid JSON value and nothing else: no prose, no markdown code fences.${shape}`;
  }
  return undefined;
}

function toolChoice(req: ChatRequest): AnthropicToolChoice | undefined {
  const choice = req.tool_choice;
  // Anthropic's switch for parallel calls lives inside tool_choice, so "auto" is made explicit to carry it.
  const noParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...noParallel };
  if (choice && typeof choice === 'object') return { type: 'tool', name: choice.function.name, ...noParallel };
  if (choice === 'auto' || req.parallel_tool_calls === false) return { type: 'auto', ...noParallel };
  return undefined;
}

export function toAnthropicRequest(req: ChatRequest, target: Target, stream: boolean): AnthropicRequest {
  if (req.n != null && req.n > 1) {
    throw new ProviderError({ kind: 'bad_request', message: 'Anthropic models return one choice per request; n > 1 is not supported' });
  }
  const { system, messages } = translateMessages(req);
  if (messages.length === 0) {
    throw new ProviderError({ kind: 'bad_request', message: 'Anthropic needs at least one non-empty user or assistant message' });
  }
  const json = jsonInstruction(req.response_format);
  if (json) system.push(json);

  const body: AnthropicRequest = {
    model: target.deployment.model,
    max_tokens: requestedMaxTokens(req) ?? DEFAULT_MAX_TOKENS,
    messages,
  };
  if (system.length > 0) body.system = system.join('\n\n');
  if (req.stop != null) body.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  // OpenAI allows 0..2, Anthropic 0..1: clamping keeps "more random" requests valid instead of failing them.
  if (req.temperature != null) body.temperature = Math.min(1, Math.max(0, req.temperature));
  if (req.top_p != null) body.top_p = req.top_p;
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    }));
    const choice = toolChoice(req);
    if (choice) body.tool_choice = choice;
  }
  if (req.user && translates('user', target.passthrough)) body.metadata = { user_id: req.user };
  if (stream) body.stream = true;
  addPassthrough(body, req, CHAT_FIELDS, target.passthrough);
  return body;
}
