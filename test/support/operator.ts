/**
 * The admin key tests present on the operator routes (/metrics, /status, /status.json, /health/deployments),
 * which need it on the gateway's port. withTestDefaults configures its hash whenever a template brings no
 * `auth:` block of its own; templates with one add `adminKeyHash: "${TEST_ADMIN_KEY_HASH}"`.
 */
import { hashKey } from '../../src/auth/keys.js';

export const TEST_ADMIN_KEY = 'gw-admin-test-operator-0f3c9a';
export const TEST_ADMIN_KEY_HASH = hashKey(TEST_ADMIN_KEY);

/** Headers that open the operator routes with `key` (default: the test admin key). */
export function asOperator(key = TEST_ADMIN_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** fetch for an operator route on the gateway's port. */
export function operatorFetch(url: string, key = TEST_ADMIN_KEY): Promise<Response> {
  return fetch(url, { headers: asOperator(key) });
}
