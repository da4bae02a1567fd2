/**
 * Which tenant a request belongs to. Until gateway keys exist every caller is the `default` tenant;
 * everything tenant-scoped (durable requests, cache entries) already asks this one function.
 */
import type { Request } from 'express';

export const DEFAULT_TENANT = 'default';

export function tenantOf(_req: Request): string {
  return DEFAULT_TENANT;
}
