/**
 * The admit stage, the pipeline's first: the alias exists, the key may use it, and the key is within its
 * limits (concurrency, requests and tokens per minute, spend budgets). It runs before anything costs the
 * gateway work or money (tokenizing, semantic routing, planning). Tokens are taken from a cheap estimate:
 * input plus max output for each of the `n` choices asked for; the real use corrects it when the request is
 * settled.
 */
import type { Principal } from '../auth/keys.js';
import type { Settle } from '../limits/admission.js';
import { estimateInputTokens } from '../decision/traits.js';
import { requestedMaxTokens, type ChatRequest } from '../protocol/chat-request.js';
import { HttpError, modelNotFound } from '../protocol/errors.js';
import type { PipelineContext } from './context.js';
import { ownValue } from '../util/own-value.js';

/** Tokens a request may use, as admission counts them before it runs. */
export function admissionTokens(request: ChatRequest): number {
  return estimateInputTokens(request) + (requestedMaxTokens(request) ?? 0) * Math.max(1, request.n ?? 1);
}

/** 403 when the key may not use this alias (404 stays reserved for aliases that do not exist). */
export function assertModelAllowed(principal: Principal, alias: string): void {
  if (principal.models && !principal.models.has(alias)) {
    throw new HttpError(403, `This API key may not use the model '${alias}'`, 'permission_error', 'model_not_allowed', 'model');
  }
}

/** Admits the request or throws its 404/403/429; the returned settle (absent without limits) runs once, at the end. */
export async function admit(ctx: PipelineContext, principal: Principal, alias: string, tokens: number): Promise<Settle | undefined> {
  if (!ownValue(ctx.config.models, alias)) throw modelNotFound(alias);
  assertModelAllowed(principal, alias);
  return ctx.admission?.admit(principal, tokens);
}
