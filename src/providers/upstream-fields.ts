/**
 * What of a client's body goes upstream: the operator chooses, not the client. Every adapter sends the canonical
 * fields it knows (translated, for Anthropic and Gemini); any other field is dropped unless the alias lists it in
 * `models.<alias>.passthrough`. Fields that act on the operator's provider account go only when listed, canonical
 * or not: a tenant must not be able to store its prompts in, bill to, or tag the operator's organisation.
 * docs/configuration.md (`models.<alias>.passthrough`) carries the same table for operators.
 */
import { chatRequestSchema, embeddingsRequestSchema } from '../protocol/chat-request.js';

/**
 * Off unless the alias lists them, with why. Each is forwarded verbatim when allowed (Anthropic's translation
 * turns an allowed `user` into `metadata.user_id`; Gemini has no equivalent of `user` or `metadata`).
 */
export const ACCOUNT_FIELDS: Readonly<Record<string, string>> = {
  store: "keeps the prompt and answer in the operator's OpenAI organisation (stored completions, evals, distillation)",
  service_tier: "picks the billing tier on the operator's account (priority costs more, scale spends reserved units)",
  metadata: "tags the request in the operator's organisation (shown with stored completions and in its logs)",
  user: "an end-user id in the operator's account, where the provider tracks and may block abuse per id; tenants share one namespace, so one tenant could get another's users blocked",
};

/** OpenAI parameters the canonical schema leaves loose but the gateway knows: planning reads them (request-features.ts). */
const KNOWN_LOOSE_CHAT_FIELDS = ['logit_bias', 'prediction', 'reasoning_effort', 'modalities', 'audio'];

/** Fields of the canonical chat request: translated (or dropped) by each adapter, never copied by passthrough. */
export const CHAT_FIELDS: ReadonlySet<string> = new Set([...Object.keys(chatRequestSchema.shape), ...KNOWN_LOOSE_CHAT_FIELDS]);
export const EMBEDDINGS_FIELDS: ReadonlySet<string> = new Set(Object.keys(embeddingsRequestSchema.shape));

/** Names that would reach an object's prototype machinery rather than a field of the body. */
const UNSAFE = new Set(['__proto__', 'constructor', 'prototype']);

export function isAccountField(field: string): boolean {
  return Object.hasOwn(ACCOUNT_FIELDS, field);
}

function listed(field: string, passthrough: readonly string[] | undefined): boolean {
  return passthrough !== undefined && passthrough.includes(field);
}

/** For adapters that send the canonical shape as it is (the OpenAI family): may this field of the body go? */
export function forwardsAsIs(field: string, canonical: ReadonlySet<string>, passthrough: readonly string[] | undefined): boolean {
  if (UNSAFE.has(field)) return false;
  if (isAccountField(field)) return listed(field, passthrough);
  return canonical.has(field) || listed(field, passthrough);
}

/** For translating adapters: may the translation of this canonical field go (it is not an account field, or it is allowed)? */
export function translates(field: string, passthrough: readonly string[] | undefined): boolean {
  return !isAccountField(field) || listed(field, passthrough);
}

/**
 * For translating adapters: copies the fields the alias lets through that the canonical request does not have,
 * verbatim, into the provider's body. A field the translation wrote is never replaced.
 */
export function addPassthrough(body: object, req: object, canonical: ReadonlySet<string>, passthrough: readonly string[] | undefined): void {
  if (!passthrough) return;
  const out = body as Record<string, unknown>;
  const from = req as Record<string, unknown>;
  for (const field of passthrough) {
    if (UNSAFE.has(field) || canonical.has(field) || !Object.hasOwn(from, field) || Object.hasOwn(out, field)) continue;
    out[field] = from[field];
  }
}
