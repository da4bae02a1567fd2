/**
 * "Tuned" decision code for the upgrade guard's negative control: src/decision/fallback.ts with one change a
 * maintainer might make without touching workflows/ — a deployment that failed is no longer switched away from;
 * the chain goes to its catch-all instead. The workflow runs this code after a failed call, so histories
 * recorded with a switch or a downgrade no longer replay on it.
 */
import { nextMove as released, type NextMove } from '../../../src/decision/fallback.js';

export * from '../../../src/decision/fallback.js';

export function nextMove(...args: Parameters<typeof released>): NextMove {
  const move = released(...args);
  return move.action === 'advance' ? { action: 'catch_all', reason: `${move.reason}; not switched (tuned)` } : move;
}
