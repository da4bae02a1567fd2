/**
 * A check after similarity: two questions that differ in a number or in a negation are different questions,
 * however similar their vectors (embedders of every kind score "what is 15% of 80" and "... of 90" as near
 * twins). The guard is a short digest of those tokens, stored with the entry instead of the question itself.
 */
import { tokenize } from '../embeddings/offline.js';

export function guardOf(text: string): string {
  const tokens = tokenize(text);
  const numbers = tokens.filter((t) => t.kind === 'number').map((t) => t.term).sort();
  const negations = tokens.filter((t) => t.kind === 'negation').length;
  return `${numbers.join(' ')}|${negations % 2}`;
}
