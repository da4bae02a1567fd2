/**
 * Client input as a key, a depth or a TTL: names that exist on every plain object (`constructor`, `__proto__`,
 * `toString`, `hasOwnProperty`) walked through every function that looks a client's model name up in the
 * config; JSON nesting measured before parsing; client cache TTLs capped; tool_choice checked against tools.
 */
import { describe, expect, it } from 'vitest';
import type { Request, Response } from 'express';
import { checkLine } from '../../src/batches/check-line.js';
import { parseCacheControl } from '../../src/cache/policy.js';
import { parseConfig } from '../../src/config/load.js';
import { aliasPool } from '../../src/decision/capability.js';
import { needsPreciseCount } from '../../src/decision/input-tokens.js';
import { NoRouteError, planRoute } from '../../src/decision/plan.js';
import { FastPathExecutor } from '../../src/execution/fast-executor.js';
import { clientErrorOf } from '../../src/ingress/errors.js';
import { getModelHandler } from '../../src/ingress/routes/models.js';
import { admit } from '../../src/pipeline/admit.js';
import type { PipelineContext } from '../../src/pipeline/context.js';
import { routeRequest, traitsOf } from '../../src/pipeline/route.js';
import { chatRequestSchema } from '../../src/protocol/chat-request.js';
import { HttpError } from '../../src/protocol/errors.js';
import { nestsDeeperThan } from '../../src/util/json-depth.js';
import { ownValue } from '../../src/util/own-value.js';

const config = parseConfig(
  `
auth: { mode: none }
providers:
  p: { type: mock }
deployments:
  a: { provider: p, model: m, contextWindow: 8000 }
models:
  main:
    groups: [{ deployments: [a] }]
    rules: [{ name: long, when: { minInputTokens: 5 }, use: [a] }]
`,
  'test',
  {},
);

const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const principal = { keyId: 'k', tenant: 't' };
const request = (model: string) => chatRequestSchema.parse({ model, messages: [{ role: 'user', content: 'hello there' }] });
const traits = { stream: false, needs: [], tags: [], estimatedInputTokens: 4 } as unknown as Parameters<typeof planRoute>[2];

async function statusOf(fn: () => unknown): Promise<number | string> {
  try {
    await fn();
    return 'no error';
  } catch (err) {
    return err instanceof HttpError ? err.status : `${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('model names a plain object inherits', () => {
  const ctx = { config, executor: new FastPathExecutor(config) } as unknown as PipelineContext;

  it.each(INHERITED)('%s is an unknown model to every lookup', async (name) => {
    expect(ownValue(config.models, name)).toBeUndefined();
    expect(() => planRoute(config, name, traits, () => 0)).toThrow(NoRouteError);
    expect(needsPreciseCount(config, name, traits)).toBe(false);
    expect(aliasPool(config, name)).toEqual([]);
    expect(traitsOf(config, request(name)).inputTokens).toBeUndefined();
    expect(await statusOf(() => admit(ctx, principal as never, name, 1))).toBe(404);
    expect(await statusOf(() => routeRequest({ config, executor: ctx.executor } as never, request(name)))).toBe(404);
    const get = getModelHandler(ctx);
    expect(await statusOf(() => get({ params: { model: name } } as unknown as Request, {} as Response))).toBe(404);
    const line = JSON.stringify({ custom_id: 'c', method: 'POST', url: '/v1/chat/completions', body: { model: name, messages: [{ role: 'user', content: 'x' }] } });
    const checked = checkLine(line, 1, { endpoint: '/v1/chat/completions', knownModels: new Set(Object.keys(config.models)), seen: new Set() });
    expect(checked).toMatchObject({ ok: false, error: { code: 'model_not_found' } });
  });

  it('a real alias is still found by each of them', async () => {
    expect(ownValue(config.models, 'main')).toBeDefined();
    expect(planRoute(config, 'main', traits, () => 0).steps[0]!.deployment).toBe('a');
    expect(needsPreciseCount(config, 'main', traits)).toBe(true);
    expect(aliasPool(config, 'main')).toEqual(['a']);
    expect(await statusOf(() => admit(ctx, principal as never, 'main', 1))).toBe('no error');
  });
});

describe('JSON nesting depth', () => {
  const nest = (n: number) => '{"a":['.repeat(n) + '1' + ']}'.repeat(n);

  it('counts objects and arrays, and stops at the limit', () => {
    expect(nestsDeeperThan(nest(32), 64)).toBe(false); // 64 levels
    expect(nestsDeeperThan(nest(33), 64)).toBe(true);
    expect(nestsDeeperThan('[[[]]]', 3)).toBe(false);
    expect(nestsDeeperThan('[[[[]]]]', 3)).toBe(true);
    expect(nestsDeeperThan('{"a":1,"b":[1,2,{"c":[]}],"d":{}}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a":1,"b":[1,2,{"c":[]}],"d":{}}', 3)).toBe(true);
    expect(nestsDeeperThan('[' + '{"x":1},'.repeat(10_000) + '1]', 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(JSON.stringify({ s: '[[[[[[{{{{{{' }), 2)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ s: 'say \\"[[[[[[\\" \\\\' }), 1)).toBe(false);
    expect(nestsDeeperThan(`{"s":"\\"","t":[[[[]]]]}`, 4)).toBe(true);
    // a string ending in a backslash: its closing quote is not escaped
    expect(nestsDeeperThan(JSON.stringify({ s: 'a\\', t: [[[[]]]] }), 4)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ s: 'a\\', t: [[[]]] }), 4)).toBe(false);
    expect(nestsDeeperThan('{"s":"unterminated [[[[[', 2)).toBe(false);
  });

  it('refuses a batch line nested deeper than an HTTP body may be', () => {
    const deepBody = `{"custom_id":"c","method":"POST","url":"/v1/chat/completions","body":{"model":"main","messages":[{"role":"user","content":"x"}],"x":${nest(5000)}}}`;
    const checked = checkLine(deepBody, 3, { endpoint: '/v1/chat/completions', knownModels: new Set(['main']), seen: new Set() });
    expect(checked).toMatchObject({ ok: false, error: { code: 'invalid_json_line', line: 3 } });
  });
});

describe('client cache TTLs', () => {
  it('are capped by the configured maximum, so no expiry overflows', () => {
    expect(parseCacheControl('ttl=60', 3600).ttlSeconds).toBe(60);
    expect(parseCacheControl('ttl=1e306', 3600).ttlSeconds).toBe(3600);
    expect(parseCacheControl('ttl=99999999999999999999', 3600).ttlSeconds).toBe(3600);
    // the default cap when none is passed: a week
    const capped = parseCacheControl('ttl=1e306').ttlSeconds!;
    expect(capped).toBe(7 * 86_400);
    const expiresAt = Date.now() + capped * 1000;
    expect(JSON.parse(JSON.stringify({ expiresAt })).expiresAt).toBe(expiresAt);
  });
});

describe('tool_choice against tools (OpenAI protocol)', () => {
  const tools = [{ type: 'function', function: { name: 'get_weather' } }];
  const issue = (body: Record<string, unknown>) => {
    const r = chatRequestSchema.safeParse({ model: 'main', messages: [{ role: 'user', content: 'x' }], ...body });
    return r.success ? undefined : { path: r.error.issues[0]!.path.join('.'), message: r.error.issues[0]!.message };
  };

  it('refuses a named tool that is not in tools, and any tool_choice without tools', () => {
    expect(issue({ tools, tool_choice: { type: 'function', function: { name: 'get_time' } } })).toEqual({ path: 'tool_choice', message: "no tool named 'get_time' is in 'tools'" });
    expect(issue({ tool_choice: { type: 'function', function: { name: 'get_weather' } } })?.path).toBe('tool_choice');
    expect(issue({ tool_choice: 'required' })?.path).toBe('tool_choice');
    expect(issue({ tool_choice: 'auto' })?.path).toBe('tool_choice');
  });

  it('accepts a choice the tools can satisfy', () => {
    expect(issue({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } })).toBeUndefined();
    expect(issue({ tools, tool_choice: 'required' })).toBeUndefined();
    expect(issue({ tools })).toBeUndefined();
  });
});

describe("Express's own errors", () => {
  it("a malformed percent-escape in a path id is the client's 400", () => {
    let thrown: unknown;
    try {
      decodeURIComponent('%E0%A4%A');
    } catch (err) {
      thrown = err;
    }
    expect(clientErrorOf(thrown)).toMatchObject({ status: 400, code: 'invalid_path' });
    expect(clientErrorOf(new Error('boom'))).toBeUndefined();
  });
});
