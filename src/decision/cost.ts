/** What an answer cost, from the deployment's prices (USD per million tokens) and the usage reported. Pure. */
import type { Usage } from '../protocol/chat-response.js';

export function costUsd(usage: Pick<Usage, 'prompt_tokens' | 'completion_tokens'> | undefined, price: { inputPerMTok: number; outputPerMTok: number }): number {
  if (!usage) return 0;
  return (usage.prompt_tokens * price.inputPerMTok + usage.completion_tokens * price.outputPerMTok) / 1_000_000;
}
