/**
 * Who is calling. `Authorization: Bearer <key>` or `x-api-key: <key>` (what the OpenAI and Anthropic SDKs send)
 * is looked up by hash; the principal decides the tenant, the models allowed and the limits. With
 * `auth.mode: none` every caller is the anonymous principal of the default tenant.
 */
import type { NextFunction, Request, Response } from 'express';
import type { KeyRegistry, Principal } from '../auth/keys.js';
import { HttpError } from '../protocol/errors.js';
import { registerSecrets, withPresentedKey } from '../security/secrets.js';

export const ANONYMOUS: Principal = { keyId: 'anonymous', tenant: 'default', limits: {} };

const principals = new WeakMap<Request, Principal>();

export function principalOf(req: Request): Principal {
  return principals.get(req) ?? ANONYMOUS;
}

export function presentedKey(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

export function authenticate(registry: KeyRegistry | undefined) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!registry) return next();
    const key = presentedKey(req);
    if (!key) {
      return next(new HttpError(401, 'Missing API key: send it as "Authorization: Bearer <key>" or "x-api-key: <key>"', 'authentication_error', 'missing_api_key'));
    }
    const principal = registry.lookup(key);
    if (!principal) return next(new HttpError(401, 'Invalid API key', 'authentication_error', 'invalid_api_key'));
    principals.set(req, principal);
    // A key that authenticated becomes one of the process's secrets: every later text (this request's upstream
    // errors and log lines, and every other request's) is scrubbed of it, and no request of this key needs a
    // scope of its own (an AsyncLocalStorage, which taxes every promise while any request runs in one). The set
    // grows by the configured keys at most, since only keys the registry knows get here.
    registerSecrets([key]);
    withPresentedKey(key, next);
  };
}

/**
 * Mounted after the body reader: its stream events run outside the scope `authenticate` opened, so the
 * presented key's scope is opened again here, around the handlers (which is where upstream text comes in).
 */
export function scopePresentedKey(req: Request, _res: Response, next: NextFunction): void {
  withPresentedKey(presentedKey(req), next);
}

export function requireAdmin(registry: KeyRegistry | undefined) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const key = presentedKey(req);
    if (!registry || !key || !registry.isAdmin(key)) {
      return next(new HttpError(401, 'This endpoint needs the admin key', 'authentication_error', 'invalid_admin_key'));
    }
    registerSecrets([key]);
    withPresentedKey(key, next);
  };
}

/** 403 when the key may not use this alias (404 stays reserved for aliases that do not exist). */
export function assertModelAllowed(req: Request, alias: string): void {
  const models = principalOf(req).models;
  if (models && !models.has(alias)) {
    throw new HttpError(403, `This API key may not use the model '${alias}'`, 'permission_error', 'model_not_allowed', 'model');
  }
}
