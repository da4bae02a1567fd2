/**
 * The Express glue of admission: admits a request for its key and settles its tokens and concurrency slot
 * when the response closes, however it ends. The limits themselves are src/limits/admission.ts.
 */
import type { Request, Response } from 'express';
import type { Admission, Settlement } from '../limits/admission.js';
import { principalOf } from './auth.js';

export type { Settlement } from '../limits/admission.js';

const settlements = new WeakMap<Response, Settlement>();

/** Handlers report what the answer used; the settlement runs when the response closes. */
export function reportUsage(res: Response, s: Settlement): void {
  settlements.set(res, { ...settlements.get(res), ...s });
}

/** Admits the request for its key, and settles when the response is done, however it ends. */
export async function admitRequest(admission: Admission | undefined, req: Request, res: Response, estimatedTokens: number, onError: (err: unknown) => void): Promise<void> {
  if (!admission) return;
  const settle = await admission.admit(principalOf(req), estimatedTokens);
  const run = () => void settle(settlements.get(res) ?? {}).catch(onError);
  // The client may have left while the store answered: then 'close' has fired already.
  if (res.destroyed || res.writableFinished) run();
  else res.once('close', run);
}
