/**
 * Input tokens of a canonical request, for routing (context fit, long-context rules). Pure: the o200k_base
 * ranks are a module (gpt-tokenizer, a pure-JS port of tiktoken giving the same ids), loaded on the first
 * count, since it costs ~200 ms and ~60 MB RSS once per process and most requests are never counted (see
 * input-tokens.ts); `loadTokenizer` loads it ahead, for configs that may count. Counting runs at ~0.4-0.8 us
 * per token.
 *
 * OpenAI models of the gpt-4o / gpt-4.1 / gpt-5 / o-series generation are counted with o200k_base and the chat
 * framing of OpenAI's cookbook ("How to count tokens with tiktoken"), which it checked against the API's
 * `usage.prompt_tokens`. Everyone else publishes no tokenizer we can ship, so their count is an estimate built
 * on the o200k count (see ESTIMATES). Errors in either direction are survivable: a context-length error from
 * a provider already moves the fallback chain to a larger window.
 */
import { createRequire } from 'node:module';
import type { countTokens as CountTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage, ChatRequest, FunctionTool, UserContentPart } from '../protocol/chat-request.js';
import type { ProviderType } from '../config/presets.js';
import { ESTIMATES, OPENAI, estimateFor, type Estimate } from './token-estimates.js';

export { ESTIMATES, estimateFor, type Estimate };

export type TokenMethod =
  | 'tiktoken:o200k_base'
  | 'estimate:openai-legacy'
  | 'estimate:anthropic'
  | 'estimate:gemini'
  | 'estimate:generic';

export interface TokenCount {
  tokens: number;
  method: TokenMethod;
}


// OpenAI's chat framing (cookbook, verified against usage.prompt_tokens for gpt-4o / gpt-4o-mini).
const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;
// Tool definitions: rendered namespace + 9, less 4 when a system message absorbs it (openai-chat-tokens'
// calibration; reproduces the cookbook's API-checked 101 for gpt-4o and 105 for gpt-4).
const TOOLS_OVERHEAD = 9;
const TOOLS_WITH_SYSTEM = -4;
const TOOL_CALL_OVERHEAD = 3;
const TOOL_CHOICE_NONE = 1;
const TOOL_CHOICE_NAMED = 4;
// Audio bytes per second: 24 kHz 16-bit mono PCM (OpenAI's wav) and 128 kbit/s mp3.
const AUDIO_BYTES_PER_SECOND = { wav: 48_000, mp3: 16_000 } as const;
// A file's tokens depend on how the provider parses it (PDF text plus page images); a rough per-byte guess.
const FILE_BYTES_PER_TOKEN = 32;

let counter: typeof CountTokens | undefined;

/** The o200k_base counter, loaded on first use (synchronously: the CommonJS build of the same package). */
export function loadTokenizer(): typeof CountTokens {
  counter ??= (createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as { countTokens: typeof CountTokens }).countTokens;
  return counter;
}

function countTokens(text: string, options: typeof PLAIN): number {
  return (counter ?? loadTokenizer())(text, options);
}

// Special-token strings in user text are plain text to the API, not control tokens (the default would throw).
const PLAIN = { disallowedSpecial: new Set<string>() };

/**
 * BPE merging is quadratic in the length of one pre-tokenized piece: 20k 'a's take ~0.4 s, 400k take 107 s.
 * Pieces are runs of one class (letters/marks, whitespace, other symbols; digits split every 3), so runs this
 * long are cut and counted in slices. Ordinary text never has one, and a cut moves the count by at most one.
 */
const RUN_LIMIT = 64;
const LETTER = 1;
const SPACE = 2;
const DIGIT = 3;
const OTHER = 4;
// Character classes by UTF-16 code unit, filled on first sight: a scan is a table lookup per character
// (a regex doing the same costs twice as much as the tokenizer itself).
const CLASS = new Uint8Array(0x10000);

function charClass(code: number): number {
  let k = CLASS[code]!;
  if (k === 0) {
    const ch = String.fromCharCode(code);
    k = /[\p{L}\p{M}]/u.test(ch) ? LETTER : /\s/u.test(ch) ? SPACE : /\p{N}/u.test(ch) ? DIGIT : OTHER;
    CLASS[code] = k;
  }
  return k;
}

/** o200k_base tokens of one string, safe against adversarially long runs. */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length < RUN_LIMIT) return countTokens(text, PLAIN);
  let total = 0;
  let from = 0;
  let start = 0;
  let runClass = 0;
  for (let i = 0; i <= text.length; i++) {
    const k = i < text.length ? charClass(text.charCodeAt(i)) : 0;
    if (k === runClass && k !== DIGIT) continue;
    if (i - start >= RUN_LIMIT && runClass !== DIGIT) {
      if (start > from) total += countTokens(text.slice(from, start), PLAIN);
      for (let a = start; a < i; ) {
        let b = Math.min(a + RUN_LIMIT, i);
        if (b < i && isHighSurrogate(text.charCodeAt(b - 1))) b += 1;
        total += countTokens(text.slice(a, b), PLAIN);
        a = b;
      }
      from = i;
    }
    start = i;
    runClass = k;
  }
  if (from < text.length) total += countTokens(from === 0 ? text : text.slice(from), PLAIN);
  return total;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}


export function countInputTokens(req: ChatRequest, providerType: ProviderType, model: string): TokenCount {
  const name = estimateFor(providerType, model);
  const est = name ? ESTIMATES[name] : OPENAI;
  const c = { tokens: 0, bytes: 0, media: 0, withBytes: est.bytesPerToken !== undefined };
  const text = (s: string | null | undefined) => {
    if (!s) return;
    c.tokens += countTextTokens(s);
    if (c.withBytes) c.bytes += Buffer.byteLength(s, 'utf8');
  };

  const hasTools = (req.tools?.length ?? 0) > 0;
  let padSystem = hasTools;
  for (const msg of req.messages) {
    c.tokens += PER_MESSAGE;
    text(msg.role);
    if ('name' in msg && msg.name) {
      text(msg.name);
      c.tokens += PER_NAME;
    }
    countContent(msg, est, text, c);
    if (padSystem && msg.role === 'system') {
      // With tools, the first system message gains a trailing newline before the definitions (same calibration).
      padSystem = false;
      const last = typeof msg.content === 'string' ? msg.content : msg.content.at(-1)?.text;
      if (last && !last.endsWith('\n')) c.tokens += countTextTokens(last.slice(-RUN_LIMIT) + '\n') - countTextTokens(last.slice(-RUN_LIMIT));
    }
  }
  c.tokens += REPLY_PRIMING;

  if (hasTools) {
    const defs = est.toolsAs === 'typescript' ? renderTools(req.tools!) : JSON.stringify(req.tools!.map((t) => t.function));
    text(defs);
    c.tokens += TOOLS_OVERHEAD;
    if (req.messages.some((m) => m.role === 'system')) c.tokens += TOOLS_WITH_SYSTEM;
    c.media += est.toolsPrompt;
  }
  const choice = req.tool_choice;
  if (choice === 'none') c.tokens += TOOL_CHOICE_NONE;
  else if (typeof choice === 'object') {
    text(choice.function.name);
    c.tokens += TOOL_CHOICE_NAMED;
  }
  // Structured outputs put the schema in front of the model; OpenAI does not say how, so count its JSON.
  if (req.response_format?.type === 'json_schema' && req.response_format.json_schema.schema) {
    text(JSON.stringify(req.response_format.json_schema.schema));
  }

  if (!name) return { tokens: c.tokens + c.media, method: 'tiktoken:o200k_base' };
  const scaled = c.tokens * est.factor;
  const floor = est.bytesPerToken ? c.bytes / est.bytesPerToken : 0;
  return { tokens: Math.ceil(Math.max(scaled, floor)) + c.media, method: `estimate:${name}` };
}

function countContent(
  msg: ChatMessage,
  est: Estimate,
  text: (s: string | null | undefined) => void,
  c: { tokens: number; media: number },
): void {
  const content = msg.content;
  if (typeof content === 'string') text(content);
  else if (Array.isArray(content)) {
    for (const part of content as Array<UserContentPart | { type: 'refusal'; refusal: string }>) {
      switch (part.type) {
        case 'text':
          text(part.text);
          break;
        case 'refusal':
          text(part.refusal);
          break;
        case 'image_url':
          c.media += (part.image_url.detail === 'low' ? est.imageLowTokens : undefined) ?? est.imageTokens;
          break;
        case 'input_audio': {
          const seconds = base64Bytes(part.input_audio.data) / AUDIO_BYTES_PER_SECOND[part.input_audio.format];
          c.media += Math.ceil(seconds * est.audioPerSecond);
          break;
        }
        case 'file':
          text(part.file.filename);
          if (part.file.file_data) c.media += Math.ceil(base64Bytes(part.file.file_data) / FILE_BYTES_PER_TOKEN);
          break;
      }
    }
  }
  if (msg.role === 'assistant') {
    text(msg.refusal);
    for (const call of msg.tool_calls ?? []) {
      text(call.function.name);
      text(call.function.arguments);
      c.tokens += TOOL_CALL_OVERHEAD;
    }
  }
}

/** Decoded size of base64 (or a data: URL) without decoding it. */
function base64Bytes(data: string): number {
  const comma = data.startsWith('data:') ? data.indexOf(',') + 1 : 0;
  return Math.floor(((data.length - comma) * 3) / 4);
}

/**
 * Tool definitions the way OpenAI shows them to the model: a TypeScript namespace (as reverse-engineered by
 * openai-chat-tokens and consistent with the cookbook's API-checked counts).
 */
export function renderTools(tools: readonly FunctionTool[]): string {
  const lines = ['namespace functions {', ''];
  for (const { function: fn } of tools) {
    if (fn.description) lines.push(`// ${fn.description}`);
    const params = fn.parameters as Schema | undefined;
    if (params?.properties && Object.keys(params.properties).length > 0) {
      lines.push(`type ${fn.name} = (_: {`, renderProperties(params, 0), '}) => any;');
    } else {
      lines.push(`type ${fn.name} = () => any;`);
    }
    lines.push('');
  }
  lines.push('} // namespace functions');
  return lines.join('\n');
}

interface Schema {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
}

function renderProperties(obj: Schema, indent: number): string {
  const required = new Set(obj.required ?? []);
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [key, prop] of Object.entries(obj.properties ?? {})) {
    // Only top-level descriptions appear as comments in OpenAI's rendering.
    if (prop?.description && indent < 2) lines.push(`${pad}// ${prop.description}`);
    lines.push(`${pad}${key}${required.has(key) ? '' : '?'}: ${renderType(prop ?? {}, indent)},`);
  }
  return lines.join('\n');
}

function renderType(s: Schema, indent: number): string {
  if (Array.isArray(s.enum) && s.enum.length > 0) {
    return s.enum.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(' | ');
  }
  const union = s.anyOf ?? s.oneOf;
  if (union) return union.map((u) => renderType(u, indent)).join(' | ');
  if (Array.isArray(s.type)) return s.type.map((t) => renderType({ ...s, type: t }, indent)).join(' | ');
  switch (s.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return s.items ? `${renderType(s.items, indent)}[]` : 'any[]';
    case 'object':
      return s.properties ? `{\n${renderProperties(s, indent + 2)}\n${' '.repeat(indent)}}` : 'object';
    default:
      return 'any';
  }
}
