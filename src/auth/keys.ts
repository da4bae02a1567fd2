/**
 * Gateway API keys. Only a key's SHA-256 is configured; a presented key is hashed and looked up, so the key
 * itself is never stored, logged or compared byte by byte. Keys are 256-bit random, which is why a plain
 * (unsalted, fast) hash is the right tool here: there is nothing to brute-force.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyConfig, AuthConfig } from '../config/types.js';

export interface Principal {
  keyId: string;
  tenant: string;
  /** Aliases this key may use; undefined = all. */
  models?: ReadonlySet<string>;
  limits: ApiKeyConfig['limits'];
}

export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

export function generateKey(): string {
  return `gw-${randomBytes(32).toString('base64url')}`;
}

export class KeyRegistry {
  private readonly byHash = new Map<string, Principal>();
  private readonly adminHash?: string;

  constructor(auth: AuthConfig) {
    for (const k of auth.keys) {
      this.byHash.set(k.hash, { keyId: k.id, tenant: k.tenant, models: k.models ? new Set(k.models) : undefined, limits: k.limits });
    }
    this.adminHash = auth.adminKeyHash;
  }

  lookup(presented: string): Principal | undefined {
    return this.byHash.get(hashKey(presented));
  }

  isAdmin(presented: string): boolean {
    return this.adminHash !== undefined && hashKey(presented) === this.adminHash;
  }

  principals(): Principal[] {
    return [...this.byHash.values()];
  }

  /** By the key's id (never its secret): how work done later, in a worker, finds the key's limits. */
  byId(keyId: string): Principal | undefined {
    for (const p of this.byHash.values()) if (p.keyId === keyId) return p;
    return undefined;
  }
}
