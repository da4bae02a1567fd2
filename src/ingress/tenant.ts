/** Which tenant a request belongs to: its key's. Everything tenant-scoped (durable requests, cache) asks this. */
import type { Request } from 'express';
import { principalOf } from './auth.js';

export function tenantOf(req: Request): string {
  return principalOf(req).tenant;
}
