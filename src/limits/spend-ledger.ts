/**
 * Spend of work that is answered after its HTTP request has ended — batch lines, `POST /v1/requests` — charged
 * to the key that submitted it, by key id, from wherever the work runs. With role `all` the worker shares the
 * gateway's limit store; separate worker processes need the Redis store to share spend with the gateways.
 */
import type { KeyRegistry } from '../auth/keys.js';
import type { Admission } from '../ingress/admission.js';
import type { HttpError } from '../protocol/errors.js';

export class SpendLedger {
  constructor(
    private readonly admission: Admission,
    private readonly keys: KeyRegistry,
  ) {}

  /** The budget refusal for this key right now, if its budget is spent (unknown keys have no budget here). */
  async refusal(keyId: string): Promise<HttpError | undefined> {
    const principal = this.keys.byId(keyId);
    return principal ? this.admission.budgetRefusal(principal) : undefined;
  }

  add(keyId: string, costUsd: number): Promise<void> {
    return this.admission.addSpend(keyId, costUsd);
  }
}
