/**
 * Which provider-dependent features a canonical request uses (see src/providers/features.ts), each with the
 * request field that uses it first, so a refusal can name the field. Pure.
 *
 * Only uses that need carrying count: `n: 1`, `parallel_tool_calls: true` and an empty `logit_bias` are the
 * defaults every provider gives anyway.
 */
import type { ChatMessage, ChatRequest, UserContentPart } from '../protocol/chat-request.js';
import type { Feature } from '../providers/features.js';

export interface FeatureUse {
  feature: Feature;
  /** The field in OpenAI's error `param` form: `n`, `tool_choice`, `messages[2].content[0]`. */
  param: string;
}

/** The image types every provider family takes inline (Anthropic takes no others). */
const COMMON_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([^;,]+)[^,]*;base64,/;
const HTTP_URL = /^https?:\/\//i;

function imageFeature(url: string): Feature {
  const data = DATA_URL.exec(url);
  if (data) return COMMON_IMAGE_TYPES.has(data[1]!) ? 'image:base64' : 'image:base64_other';
  return HTTP_URL.test(url) ? 'image:url' : 'image:other';
}

function fileFeature(file: Extract<UserContentPart, { type: 'file' }>['file']): Feature {
  if (!file.file_data) return 'file:id';
  const data = DATA_URL.exec(file.file_data);
  if (data) return data[1] === 'application/pdf' ? 'file:pdf' : 'file:data';
  return HTTP_URL.test(file.file_data) ? 'file:url' : 'file:raw';
}

function partFeature(part: UserContentPart): Feature | undefined {
  switch (part.type) {
    case 'input_audio':
      return 'input_audio';
    case 'image_url':
      return imageFeature(part.image_url.url);
    case 'file':
      return fileFeature(part.file);
    case 'text':
      return undefined;
  }
}

/** As tool-arguments.ts reads them: "" is an empty object; anything else must parse to an object. */
function argumentsAreObject(args: string): boolean {
  const t = args.trim();
  if (t === '') return true;
  if (!t.startsWith('{')) return false;
  try {
    const v = JSON.parse(t) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** Whether the message survives translation as a turn of its own (Anthropic and Gemini drop empty text). */
function isTurn(m: ChatMessage): boolean {
  switch (m.role) {
    case 'user':
      return typeof m.content === 'string' ? m.content !== '' : m.content.some((p) => p.type !== 'text' || p.text !== '');
    case 'assistant': {
      if ((m.tool_calls?.length ?? 0) > 0) return true;
      const c = m.content;
      if (c == null) return false;
      return typeof c === 'string' ? c !== '' : c.some((p) => (p.type === 'text' ? p.text : p.refusal) !== '');
    }
    case 'tool':
      return true;
    default:
      return false;
  }
}

export function requestFeatures(req: ChatRequest): FeatureUse[] {
  const out: FeatureUse[] = [];
  const seen = new Set<Feature>();
  const use = (feature: Feature, param: string) => {
    if (seen.has(feature)) return;
    seen.add(feature);
    out.push({ feature, param });
  };
  // Fields the schema does not name (OpenAI adds parameters often) are still on the parsed request.
  const extra = req as Record<string, unknown>;

  if (req.n != null && req.n > 1) use('n', 'n');
  if ((req.tools?.length ?? 0) > 0) use('tools', 'tools');
  if (req.parallel_tool_calls === false) use('parallel_tool_calls', 'parallel_tool_calls');
  const choice = req.tool_choice;
  if (choice !== undefined) use(typeof choice === 'string' ? `tool_choice:${choice}` : 'tool_choice:function', 'tool_choice');

  let turns = false;
  req.messages.forEach((m, i) => {
    if (!turns && isTurn(m)) turns = true;
    if (m.role === 'user' && Array.isArray(m.content)) {
      m.content.forEach((p, j) => {
        const f = partFeature(p);
        if (f) use(f, `messages[${i}].content[${j}]`);
      });
    } else if (m.role === 'assistant') {
      m.tool_calls?.forEach((c, j) => {
        if (!argumentsAreObject(c.function.arguments)) use('non_object_tool_arguments', `messages[${i}].tool_calls[${j}].function.arguments`);
      });
    }
  });
  if (!turns) use('no_conversation_turns', 'messages');

  const modalities = extra.modalities;
  if (Array.isArray(modalities) && modalities.includes('audio')) use('audio_output', 'modalities');
  else if (extra.audio != null) use('audio_output', 'audio');

  if (req.logprobs) {
    use('logprobs', 'logprobs');
    if (req.top_logprobs != null && req.top_logprobs > 0) use('top_logprobs', 'top_logprobs');
  }
  const format = req.response_format?.type;
  if (format === 'json_object' || format === 'json_schema') use(`response_format:${format}`, 'response_format');
  if (req.seed != null) use('seed', 'seed');
  if (req.stop != null && req.stop.length > 0) use('stop', 'stop');
  if (req.presence_penalty != null) use('presence_penalty', 'presence_penalty');
  if (req.frequency_penalty != null) use('frequency_penalty', 'frequency_penalty');
  const bias = extra.logit_bias;
  if (bias != null && typeof bias === 'object' && Object.keys(bias).length > 0) use('logit_bias', 'logit_bias');
  if (extra.prediction != null) use('prediction', 'prediction');
  if (extra.reasoning_effort != null) use('reasoning_effort', 'reasoning_effort');
  return out;
}
