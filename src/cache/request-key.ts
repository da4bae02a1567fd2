/**
 * What makes two requests interchangeable. The exact key hashes the whole canonical request; the partition
 * hashes everything that must match exactly for a semantic hit to be safe — tenant, alias, embedder, system
 * prompt, earlier turns, tools, tool choice, response format and every sampling parameter — so only the
 * embedded user text is ever compared by similarity. (Gateways that embed the last turn alone replay answers
 * across tenants and across agent turns that differ only in their tool results.)
 */
import { createHash } from 'node:crypto';
import type { ChatMessage, ChatRequest } from '../protocol/chat-request.js';

export type EmbedMode = 'last_user' | 'all_user';

/** Fields that change nothing about the answer (how it is delivered, who it is attributed to), and the alias, keyed on its own. */
const DELIVERY_FIELDS = new Set(['stream', 'stream_options', 'user', 'metadata', 'store', 'service_tier', 'model']);

export interface RequestKey {
  /** Hash of tenant, alias and the whole canonical request (delivery fields aside). */
  exact: string;
  /** Hash of everything but the embedded text; undefined when the semantic tier does not apply. */
  partition?: string;
  /** The user text compared by similarity. */
  text?: string;
}

/** Stable JSON: sorted keys, undefined dropped, so equal requests hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function userText(m: Extract<ChatMessage, { role: 'user' }>): string {
  return typeof m.content === 'string' ? m.content : m.content.map((p) => (p.type === 'text' ? p.text : '')).join('\n');
}

/** A user message with its text taken out: images, audio and files still have to match exactly. */
function withoutText(m: Extract<ChatMessage, { role: 'user' }>): unknown {
  const rest = typeof m.content === 'string' ? [] : m.content.filter((p) => p.type !== 'text');
  return { role: 'user', name: m.name, content: rest };
}

/** The request's parameters with delivery fields dropped and max tokens under one name. */
function parameters(req: ChatRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (k === 'messages' || DELIVERY_FIELDS.has(k) || v === null || v === undefined) continue;
    out[k] = v;
  }
  const max = req.max_completion_tokens ?? req.max_tokens;
  delete out.max_tokens;
  delete out.max_completion_tokens;
  if (max != null) out.max_tokens = max;
  return out;
}

export interface KeyScope {
  tenant: string;
  alias: string;
  /** Vectors of different embedders never meet. */
  embedderId: string;
  embed: EmbedMode;
}

export function requestKey(req: ChatRequest, scope: KeyScope): RequestKey {
  const params = parameters(req);
  const exact = sha256(canonicalJson({ v: 1, tenant: scope.tenant, alias: scope.alias, params, messages: req.messages }));
  const last = req.messages.length - 1;
  const lastMessage = req.messages[last];
  // An agent turn (the last message is a tool result or an assistant prefill) depends on what came before
  // in ways a similarity score cannot judge: only the exact tier may answer it.
  if (lastMessage?.role !== 'user') return { exact };
  let text: string;
  let context: unknown[];
  if (scope.embed === 'last_user') {
    text = userText(lastMessage);
    context = req.messages.map((m, i) => (i === last ? withoutText(lastMessage) : m));
  } else {
    const texts: string[] = [];
    context = req.messages.map((m) => {
      if (m.role !== 'user') return m;
      texts.push(userText(m));
      return withoutText(m);
    });
    text = texts.join('\n');
  }
  if (!text.trim()) return { exact };
  const partition = sha256(canonicalJson({ v: 1, tenant: scope.tenant, alias: scope.alias, embedder: scope.embedderId, embed: scope.embed, params, context }));
  return { exact, partition, text };
}
