/**
 * One line of a batch input file, checked the way OpenAI's batch validation reports problems: a code, a
 * message, the parameter at fault and the 1-based line number. The request body is checked with the same
 * schema and messages as `POST /v1/chat/completions`. Pure: the caller owns the set of custom ids seen so far.
 */
import { chatRequestSchema, type ChatRequest } from '../protocol/chat-request.js';
import { fromZodError } from '../protocol/errors.js';
import type { BatchLineError } from './types.js';
import { DEFAULT_MAX_JSON_DEPTH, nestsDeeperThan } from '../util/json-depth.js';

export interface LineCheckContext {
  /** The batch's endpoint: every line's `url` must be it. */
  endpoint: string;
  /** Aliases the gateway serves. */
  knownModels: ReadonlySet<string>;
  /** Aliases the submitting key may use; undefined when it may use every alias. */
  allowedModels?: ReadonlySet<string>;
  /** custom_ids of the lines before this one. */
  seen: Set<string>;
}

export type CheckedLine = { ok: true; customId: string; request: ChatRequest } | { ok: false; error: BatchLineError };

const MAX_CUSTOM_ID = 512;

function problem(line: number, code: string, message: string, param: string | null = null): CheckedLine {
  return { ok: false, error: { code, message, param, line } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkLine(text: string, line: number, ctx: LineCheckContext): CheckedLine {
  // The request body may nest as deep as an HTTP body may (server.maxJsonDepth's default); the line wraps it once.
  if (nestsDeeperThan(text, DEFAULT_MAX_JSON_DEPTH + 1)) return problem(line, 'invalid_json_line', `Line ${line} nests deeper than ${DEFAULT_MAX_JSON_DEPTH} levels.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return problem(line, 'invalid_json_line', `Line ${line} is not valid JSON.`);
  }
  if (!isObject(parsed)) return problem(line, 'invalid_json_line', `Line ${line} must be a JSON object.`);

  const customId = parsed.custom_id;
  if (customId === undefined || customId === null) return problem(line, 'missing_required_parameter', "Missing required parameter: 'custom_id'.", 'custom_id');
  if (typeof customId !== 'string' || customId.length === 0 || customId.length > MAX_CUSTOM_ID) {
    return problem(line, 'invalid_value', `'custom_id' must be a string of 1 to ${MAX_CUSTOM_ID} characters.`, 'custom_id');
  }
  if (ctx.seen.has(customId)) return problem(line, 'duplicate_custom_id', `The custom_id '${customId}' is used more than once; each line needs its own.`, 'custom_id');
  ctx.seen.add(customId);

  if (parsed.method !== 'POST') {
    return problem(line, 'invalid_value', `Invalid value for 'method': only POST is supported, not ${JSON.stringify(parsed.method ?? null)}.`, 'method');
  }
  if (parsed.url !== ctx.endpoint) {
    return problem(line, 'invalid_url', `The url ${JSON.stringify(parsed.url ?? null)} does not match the batch's endpoint '${ctx.endpoint}'.`, 'url');
  }
  if (!isObject(parsed.body)) return problem(line, 'missing_required_parameter', "Missing required parameter: 'body' (the request, as a JSON object).", 'body');

  const request = chatRequestSchema.safeParse(parsed.body);
  if (!request.success) {
    const err = fromZodError(request.error);
    return problem(line, 'invalid_request', err.message, err.param ? `body.${err.param}` : 'body');
  }
  if (request.data.stream) return problem(line, 'invalid_value', 'Streaming is not supported in a batch: remove body.stream.', 'body.stream');
  const model = request.data.model;
  if (!ctx.knownModels.has(model)) return problem(line, 'model_not_found', `The model '${model}' does not exist or you do not have access to it.`, 'body.model');
  if (ctx.allowedModels && !ctx.allowedModels.has(model)) {
    return problem(line, 'model_not_allowed', `This API key may not use the model '${model}'.`, 'body.model');
  }
  return { ok: true, customId, request: request.data };
}
