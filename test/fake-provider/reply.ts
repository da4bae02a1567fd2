import { createHash, randomBytes } from 'node:crypto';
import type { Conversation, FinishReason, Plan, PlannedToolCall, ReplyStep } from './types.js';

/** Word-ish pieces with their leading whitespace, like tokenizer output; joining them gives the text back. */
export function splitPieces(text: string): string[] {
  if (text === '') return [];
  const pieces = text.match(/\s*\S+/g);
  if (!pieces) return [text];
  const consumed = pieces.join('').length;
  if (consumed < text.length) pieces[pieces.length - 1] += text.slice(consumed);
  return pieces;
}

/** Tool arguments are streamed in about three fragments so clients must really concatenate. */
export function splitArguments(args: string): string[] {
  if (args.length < 3) return args === '' ? [] : [args];
  const size = Math.ceil(args.length / 3);
  const out: string[] = [];
  for (let i = 0; i < args.length; i += size) out.push(args.slice(i, i + size));
  return out;
}

export function countWords(text: string): number {
  let n = 0;
  const re = /\S+/g;
  while (re.exec(text) !== null) n++;
  return n;
}

export function promptTokensOf(texts: string[]): number {
  let n = 0;
  for (const t of texts) n += countWords(t);
  return Math.max(1, n);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Random alphanumeric id body, like the providers' own (and valid for Anthropic's tool_use id pattern). */
export function newId(len = 24): string {
  // Drawn from a pooled buffer: one randomBytes call per ~thousand ids instead of one per id.
  if (poolAt + len > pool.length) {
    pool = randomBytes(16384);
    poolAt = 0;
  }
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[pool[poolAt++]! % ALPHABET.length];
  return out;
}
let pool = Buffer.alloc(0);
let poolAt = 0;

/** Deterministic, negative, token-position based log-probability. */
export function logprobAt(i: number): number {
  return -Math.round((0.0005 + ((i * 7919) % 97) / 400) * 1e6) / 1e6;
}

const WEATHER_CALLS = [
  { name: 'get_weather', arguments: '{"city":"Paris"}' },
  { name: 'get_weather', arguments: '{"city":"Tokyo"}' },
];

type Shape = Partial<Pick<ReplyStep, 'text' | 'toolCalls' | 'finishReason' | 'tokenDelayMs'>>;

export function buildPlan(conv: Conversation, shape: Shape = {}): Plan {
  let text: string;
  let calls: Array<{ name: string; arguments: string }>;
  const scripted = shape.text !== undefined || (shape.toolCalls?.length ?? 0) > 0;
  if (scripted) {
    text = shape.text ?? '';
    calls = shape.toolCalls ?? [];
  } else if (conv.hasTools && !conv.toolsDisabled && conv.endsWithUserText && /\bweather\b/i.test(conv.lastUserText)) {
    text = '';
    calls = WEATHER_CALLS;
  } else {
    text = `Echo: ${conv.lastUserText}`;
    calls = [];
  }
  let pieces = splitPieces(text);
  let finish: FinishReason = shape.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop');
  // Honour the client's output cap like a real model would, unless the test pinned the outcome.
  if (!shape.finishReason && calls.length === 0 && conv.maxTokens !== undefined && pieces.length > conv.maxTokens) {
    pieces = pieces.slice(0, Math.max(0, conv.maxTokens));
    text = pieces.join('');
    finish = 'length';
  }
  const toolCalls: PlannedToolCall[] = calls.map((c) => ({
    id: newId(),
    name: c.name,
    arguments: c.arguments,
    fragments: splitArguments(c.arguments),
  }));
  const completionTokens = pieces.length + toolCalls.reduce((n, c) => n + c.fragments.length, 0);
  return {
    text,
    pieces,
    toolCalls,
    finish,
    promptTokens: conv.promptTokens,
    completionTokens,
    logprobs: conv.logprobs,
    tokenDelayMs: shape.tokenDelayMs ?? 0,
  };
}

export function parseArgs(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Scripted arguments need not be JSON; object-typed protocols still get an object.
  }
  return { _raw: args };
}

/** Unit-length vector derived from sha256 of the input: same input, same vector, in every process. */
export function embed(input: string, dims = 8): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dims; block++) {
    const h = createHash('sha256').update(`${block}:${input}`).digest();
    for (let i = 0; i + 1 < h.length && out.length < dims; i += 2) out.push(h.readUInt16BE(i) / 32767.5 - 1);
  }
  const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}
