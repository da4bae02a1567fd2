/** The gateway under test: the setup both benchmarks give it, and waiting for it to be ready. */
import { setTimeout as sleep } from 'node:timers/promises';
import { hashKey } from '../../src/auth/keys.js';
import { describeFailure, running, type Child } from './children.js';

export const ALIAS = 'bench';
export const UPSTREAM_MODEL = 'bench-model';
export const DEPLOYMENT = 'bench-dep';
export const API_KEY = 'bench-key';
/**
 * The provider's key, distinct from the gateway key as in production: a request whose presented key equals a
 * provider key takes a shortcut (no per-request redaction scope), which would make the benchmark measure less
 * than production pays.
 */
export const UPSTREAM_KEY = 'bench-upstream-key';
export const PROMPT = 'Say hello to the benchmark.';
export const EXPECTED_TEXT = `Echo: ${PROMPT}`;

/**
 * One alias → one deployment on the fake provider. `extra`: more top-level lines, after `auth`. `logLevel`: warn
 * by default (no per-request log line, so logging costs nothing; readiness is polled on /healthz instead); the
 * peers benchmark runs `info`, as production does, since the peers log each request too.
 */
export function gatewayYaml(writtenBy: string, fakeUrl: string, port: number, extra: string[] = [], { logLevel = 'warn' }: { logLevel?: 'warn' | 'info' } = {}): string {
  return [
    `# written by ${writtenBy}`,
    `server: { host: 127.0.0.1, port: ${port} }`,
    `logging: { level: ${logLevel} }`,
    // A real key check, as in production: the load generator sends `Bearer bench-key` everywhere.
    'auth:',
    `  keys: [{ id: bench, tenant: bench, hash: "${hashKey(API_KEY)}" }]`,
    ...extra,
    ...upstreamLines(fakeUrl),
  ].join('\n');
}

/** The config's tail every bench gateway shares: the fake provider, its one deployment and the alias over it. */
export function upstreamLines(fakeUrl: string): string[] {
  return [
    'providers:',
    `  fake: { type: openai, baseUrl: ${JSON.stringify(`${fakeUrl}/v1`)}, apiKey: ${UPSTREAM_KEY} }`,
    'deployments:',
    `  ${DEPLOYMENT}: { provider: fake, model: ${UPSTREAM_MODEL} }`,
    'models:',
    `  ${ALIAS}: { groups: [{ deployments: [${DEPLOYMENT}] }] }`,
    '',
  ];
}

/**
 * Polls `${url}${probe}` until it answers 200 (true) or the child exits (false, once its output is read, so the
 * caller can look at `child.tail` to decide on a retry); throws after `timeoutMs`.
 */
export async function waitForHealthz(child: Child, url: string, timeoutMs: number, probe = '/healthz'): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running(child)) {
      await child.exited;
      return false;
    }
    if (Date.now() > deadline) throw describeFailure(child, `did not answer ${probe} within ${timeoutMs / 1000} s`);
    try {
      const res = await fetch(`${url}${probe}`);
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
}
