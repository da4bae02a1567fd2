/**
 * Lines of the output and error files in OpenAI's format. Every line carries the input's `custom_id`:
 *   answered 2xx → output file: {id, custom_id, response: {status_code, request_id, body}, error: null}
 *   answered 4xx/5xx → error file, same shape (the body is the OpenAI error object, as OpenAI writes it)
 *   never run (cancelled, expired) → error file: {id, custom_id, response: null, error: {code, message}}
 * Pure; ids are derived from the batch and line index, so writing a file again writes the same bytes.
 */
import { lineRequestId } from './ids.js';
import type { FinalOutcome, LineResult, TokenUsage } from './types.js';

export function answeredLine(batchId: string, index: number, result: LineResult): string {
  return JSON.stringify({
    id: lineRequestId(batchId, index),
    custom_id: result.custom_id,
    response: { status_code: result.status_code, request_id: `${batchId}-${index}`, body: result.body },
    error: null,
  });
}

const NOT_RUN: Partial<Record<FinalOutcome, { code: string; message: string }>> = {
  cancelled: { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' },
  expired: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
  failed: { code: 'batch_failed', message: 'This request was not executed because the batch failed.' },
};

export function notRunLine(batchId: string, index: number, customId: string, outcome: FinalOutcome): string {
  return JSON.stringify({ id: lineRequestId(batchId, index), custom_id: customId, response: null, error: NOT_RUN[outcome] ?? NOT_RUN.failed });
}

export const isSuccess = (result: LineResult): boolean => result.status_code >= 200 && result.status_code < 300;

export function emptyUsage(): TokenUsage {
  return { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
}

/** Adds a completion's usage (OpenAI chat shape) to the batch's totals. */
export function addUsage(total: TokenUsage, body: unknown): void {
  const u = (body as { usage?: Record<string, any> } | null)?.usage;
  if (!u) return;
  total.input_tokens += Number(u.prompt_tokens) || 0;
  total.output_tokens += Number(u.completion_tokens) || 0;
  total.input_tokens_details.cached_tokens += Number(u.prompt_tokens_details?.cached_tokens) || 0;
  total.output_tokens_details.reasoning_tokens += Number(u.completion_tokens_details?.reasoning_tokens) || 0;
  total.total_tokens = total.input_tokens + total.output_tokens;
}
