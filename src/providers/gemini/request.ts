/**
 * Canonical chat request to a Gemini generateContent request. Pure: no I/O, no clock.
 * Only fields Gemini documents are emitted; OpenAI-only parameters without an equivalent (user,
 * parallel_tool_calls, OpenAI's `metadata`) are dropped, since Gemini rejects unknown fields. Fields outside the
 * canonical request go only when the alias lists them (`passthrough`, upstream-fields.ts), verbatim.
 */
import { contentText, requestedMaxTokens, type ChatRequest } from '../../protocol/chat-request.js';
import { ProviderError } from '../errors.js';
import { functionResponsePart, modelParts, userParts } from './content.js';
import { toolParameters } from './schema.js';
import type { GeminiContent, GeminiGenerationConfig, GeminiPart, GeminiRequest } from './wire.js';
import { addPassthrough, CHAT_FIELDS } from '../upstream-fields.js';

/** Appends parts, merging into the previous content when the role repeats (Gemini wants alternation). */
function pushParts(out: GeminiContent[], role: 'user' | 'model', parts: GeminiPart[]): void {
  if (parts.length === 0) return;
  const last = out[out.length - 1];
  if (last && last.role === role) last.parts.push(...parts);
  else out.push({ role, parts });
}

function translateMessages(req: ChatRequest): { system: string[]; contents: GeminiContent[] } {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  // Gemini's functionResponse names the function, OpenAI's tool message only the call id: remember the pairs.
  const nameByCallId = new Map<string, string>();
  for (const msg of req.messages) {
    switch (msg.role) {
      case 'system':
      case 'developer': {
        const text = contentText(msg.content);
        if (text) system.push(text);
        break;
      }
      case 'user':
        pushParts(contents, 'user', userParts(msg.content));
        break;
      case 'assistant':
        for (const call of msg.tool_calls ?? []) nameByCallId.set(call.id, call.function.name);
        pushParts(contents, 'model', modelParts(msg));
        break;
      case 'tool': {
        const name = nameByCallId.get(msg.tool_call_id);
        if (!name) {
          throw new ProviderError({ kind: 'bad_request', message: `tool message refers to unknown tool_call_id ${msg.tool_call_id}` });
        }
        // Function results go back in a user turn (Gemini's documented pattern); parallel results share it.
        pushParts(contents, 'user', [functionResponsePart(name, msg.content)]);
        break;
      }
    }
  }
  return { system, contents };
}

function generationConfig(req: ChatRequest): GeminiGenerationConfig | undefined {
  const c: GeminiGenerationConfig = {};
  if (req.temperature != null) c.temperature = req.temperature;
  if (req.top_p != null) c.topP = req.top_p;
  const max = requestedMaxTokens(req);
  if (max != null) c.maxOutputTokens = max;
  if (req.stop != null) c.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.n != null) c.candidateCount = req.n;
  if (req.seed != null) c.seed = req.seed;
  if (req.presence_penalty != null) c.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty != null) c.frequencyPenalty = req.frequency_penalty;
  const format = req.response_format;
  if (format?.type === 'json_object' || format?.type === 'json_schema') c.responseMimeType = 'application/json';
  // responseJsonSchema takes standard JSON Schema as clients write it; responseSchema would need the OpenAPI subset.
  if (format?.type === 'json_schema' && format.json_schema.schema) c.responseJsonSchema = format.json_schema.schema;
  if (req.logprobs) {
    c.responseLogprobs = true;
    if (req.top_logprobs != null) c.logprobs = req.top_logprobs;
  }
  return Object.keys(c).length > 0 ? c : undefined;
}

function toolConfig(choice: ChatRequest['tool_choice']): GeminiRequest['toolConfig'] {
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice && typeof choice === 'object') {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  return undefined;
}

export function toGeminiRequest(req: ChatRequest, passthrough?: readonly string[]): GeminiRequest {
  const { system, contents } = translateMessages(req);
  if (contents.length === 0) {
    throw new ProviderError({ kind: 'bad_request', message: 'Gemini needs at least one non-empty user or assistant message' });
  }
  const body: GeminiRequest = { contents };
  if (system.length > 0) body.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  if (req.tools && req.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: req.tools.map((t) => {
          const parameters = toolParameters(t.function.parameters);
          return {
            name: t.function.name,
            ...(t.function.description ? { description: t.function.description } : {}),
            ...(parameters ? { parameters } : {}),
          };
        }),
      },
    ];
    const config = toolConfig(req.tool_choice);
    if (config) body.toolConfig = config;
  }
  const config = generationConfig(req);
  if (config) body.generationConfig = config;
  addPassthrough(body, req, CHAT_FIELDS, passthrough);
  return body;
}

/** Gemini model names appear bare or as `models/<name>` in configs; the URL wants the bare name. */
export function modelPath(model: string): string {
  return encodeURIComponent(model.replace(/^models\//, ''));
}
