/**
 * Who may read what only operators should: the admin key, presented as `Authorization: Bearer <key>`,
 * `x-api-key: <key>` or HTTP Basic with the key as the password (what a browser sends after its login prompt,
 * so the status page works in a browser: its own polls of /status.json carry the same credentials).
 *
 * Without an `auth.adminKeyHash` nobody is the admin. A request from this machine (loopback peer, no proxy
 * forwarding headers) may be let in without the key where the config says so (`server.operator.localWithoutKey`):
 * the laptop case, `npm start` and a browser on http://localhost:8080/status.
 */
import type { NextFunction, Request, Response } from 'express';
import { hashKey, type KeyRegistry } from '../auth/keys.js';
import type { AuthConfig } from '../config/types.js';
import { HttpError } from '../protocol/errors.js';

const REALM = 'Basic realm="llm-gateway operator", charset="UTF-8"';

/** The key a request presents for admin use, in any of the three forms; undefined when it presents none. */
export function presentedAdminKey(req: Pick<Request, 'headers'>): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (bearer) return bearer[1];
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const password = colon >= 0 ? decoded.slice(colon + 1) : decoded;
      return password.length > 0 ? password : undefined;
    }
    return undefined;
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

/** Who the admin is: the key registry, or with `auth.mode: none` (no registry) the configured hash alone. */
export type AdminCheck = Pick<KeyRegistry, 'isAdmin'>;

/** The admin check whatever `auth.mode` says: an open gateway still has an admin key when one is configured. */
export function adminCheckOf(auth: Pick<AuthConfig, 'adminKeyHash'>, registry?: KeyRegistry): AdminCheck {
  if (registry) return registry;
  const hash = auth.adminKeyHash;
  return { isAdmin: (presented) => hash !== undefined && hashKey(presented) === hash };
}

/** True when the request carries the configured admin key. */
export function isAdminRequest(req: Pick<Request, 'headers'>, registry: AdminCheck | undefined): boolean {
  const key = presentedAdminKey(req);
  return !!registry && !!key && registry.isAdmin(key);
}

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host'];

/**
 * A client on this machine talking to the gateway directly. A reverse proxy on the same host also connects
 * from loopback, so a request with forwarding headers is not local: it may come from anywhere.
 */
export function isLocalClient(req: Pick<Request, 'headers' | 'socket'>): boolean {
  const peer = req.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  return loopback && FORWARDING_HEADERS.every((h) => req.headers[h] === undefined);
}

function refused(challenge: boolean): HttpError {
  return new HttpError(401, 'This endpoint needs the admin key', 'authentication_error', 'invalid_admin_key', null, challenge ? { 'www-authenticate': REALM } : {});
}

export interface AdminKeyOptions {
  /** Answer a refusal with a Basic challenge, so a browser asks for the key (pages meant for browsers). */
  challenge?: boolean;
}

/** 401 unless the request carries the admin key. */
export function requireAdminKey(registry: AdminCheck | undefined, opts: AdminKeyOptions = {}) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(isAdminRequest(req, registry) ? undefined : refused(opts.challenge ?? false));
  };
}

export interface OperatorAccess {
  /** The admin check (adminCheckOf: a bare KeyRegistry is absent with `auth.mode: none`). */
  registry: AdminCheck | undefined;
  /** Local clients (see isLocalClient) need no key. */
  localWithoutKey: boolean;
}

/** The operator routes on the public port: the admin key, or a local client where the config allows it. */
export function requireOperator(access: OperatorAccess) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if ((access.localWithoutKey && isLocalClient(req)) || isAdminRequest(req, access.registry)) return next();
    next(refused(true));
  };
}
