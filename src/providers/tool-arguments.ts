/**
 * OpenAI carries tool-call arguments as a JSON string; Anthropic and Gemini want the object. A string that is
 * not a JSON object is the client's error (400), since no provider could accept it either.
 */
import type { ToolCall } from '../protocol/chat-request.js';
import { ProviderError } from './errors.js';

export function toolArgumentsObject(call: ToolCall): Record<string, unknown> {
  // Models emit "" for argument-less calls; that is an empty object, not a client error.
  if (call.function.arguments.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(call.function.arguments);
  } catch {
    throw new ProviderError({ kind: 'bad_request', message: `tool call ${call.id} has arguments that are not valid JSON` });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ProviderError({ kind: 'bad_request', message: `tool call ${call.id} has arguments that are not a JSON object` });
  }
  return parsed as Record<string, unknown>;
}
