/**
 * The chain's last resort, the same on both paths: a stale answer from the semantic cache (its catch-all
 * threshold), else the alias's preset answer, else nothing (the caller answers "service busy").
 */
import type { ChatCompletion } from '../protocol/chat-response.js';
import { presetCompletion } from './preset-answer.js';

export interface CatchAllSources {
  alias: string;
  presetAnswer?: string;
  /** The cache's stale answer, if there is a cache and it has one. */
  stale?: () => Promise<{ completion: ChatCompletion; similarity?: number; verdict?: string } | undefined>;
  nowSeconds: number;
}

/** `similarity` and `verdict` (the cache verifier's) come with a cached answer, for its headers and log. */
export type CatchAllAnswer = { completion: ChatCompletion; source: 'cache' | 'preset'; similarity?: number; verdict?: string };

export async function catchAllAnswer(s: CatchAllSources): Promise<CatchAllAnswer | undefined> {
  const hit = await s.stale?.();
  if (hit) return { completion: hit.completion, source: 'cache', ...(hit.similarity !== undefined && { similarity: hit.similarity }), ...(hit.verdict !== undefined && { verdict: hit.verdict }) };
  if (s.presetAnswer !== undefined) return { completion: presetCompletion(s.alias, s.presetAnswer, s.nowSeconds), source: 'preset' };
  return undefined;
}
