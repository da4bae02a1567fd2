/**
 * The decision layer driven through both paths against the fake provider: breakers opened by failures and
 * probed after their cool-down (and shared between the fast path and the durable worker of one process),
 * capability rules on token count and task tags.
 */
import { describe, expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';
import { operatorFetch } from '../support/operator.js';

// Long enough that a durable request on a busy machine still finds the breaker open.
const COOLDOWN_MS = 2_000;

const yaml = `
health:
  breaker: { consecutiveFailures: 3, minRequests: 1000, cooldownMs: ${COOLDOWN_MS}, maxCooldownMs: ${COOLDOWN_MS}, halfOpenProbes: 1 }
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-routing-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-routing-upstream }
deployments:
  flaky: { provider: oa, model: gpt-flaky }
  steady: { provider: an, model: claude-steady }
  short: { provider: oa, model: gpt-short, contextWindow: 16000 }
  long: { provider: oa, model: gpt-long, contextWindow: 1000000 }
  tiny: { provider: oa, model: gpt-tiny, tier: 3 }
  slow: { provider: oa, model: gpt-slow }
  backup: { provider: an, model: claude-backup }
  unmeasured: { provider: oa, model: gpt-unmeasured }
  cheap: { provider: oa, model: gpt-cheap, tier: 3, price: { inputPerMTok: 0.15, outputPerMTok: 0.6 } }
  strong: { provider: an, model: claude-strong, price: { inputPerMTok: 3, outputPerMTok: 15 } }
  code-dep: { provider: oa, model: gpt-code }
  billing-dep: { provider: oa, model: gpt-billing }
  general: { provider: oa, model: gpt-general }
models:
  cheap-alias: { groups: [{ deployments: [cheap] }] }
  strong-alias: { groups: [{ deployments: [strong] }] }
  smart:
    cascade:
      stages: [cheap-alias, strong-alias]
      evaluators: [{ type: rules, minChars: 10 }]
  helpdesk:
    groups: [{ deployments: [general] }]
    semantic:
      embedder: { kind: offline } # the default threshold is calibrated for it; the real model routing: semantic-routing-model.test.ts
      routes:
        - name: code
          examples: ["fix this python function", "why does my typescript build fail", "my javascript code throws an exception", "how do I write a unit test for this function", "the compiler gives a type error"]
          use: [code-dep]
        - name: billing
          examples: ["I was charged twice this month", "how do I update my credit card", "cancel my subscription and refund me", "where is my invoice", "the payment failed on my card"]
          use: [billing-dep]
  hedged:
    groups: [{ deployments: [slow] }, { deployments: [backup] }]
    hedge: { afterMs: 150 }
  hedged-p95:
    groups: [{ deployments: [unmeasured] }, { deployments: [backup] }]
    hedge: {}
  guarded:
    groups: [{ deployments: [flaky] }, { deployments: [steady] }]
    fallback: { attemptsPerDeployment: 1 }
  tasks:
    groups: [{ deployments: [short] }]
    rules:
      - name: long-context
        when: { minInputTokens: 20000 }
        use: [long]
        mode: only
      - name: classify
        when: { tags: [classify] }
        use: [tiny]
`;

const h = useDurableHarness(yaml);

type Path = 'fast' | 'durable';

async function chat(path: Path, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(path === 'durable' && { 'x-gateway-durable': 'true' }), ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const ask = (model: string, content = 'hello') => ({ model, messages: [{ role: 'user', content }] });
const callsTo = (model: string) => h.fake.requests.filter((r) => r.kind === 'chat' && r.model === model).length;

async function breakerOf(deployment: string): Promise<{ state: string; reason: string | null }> {
  const res = await operatorFetch(`${h.gateway.url}/health/deployments`);
  const body = (await res.json()) as any;
  return body.deployments[deployment].breaker;
}

describe('circuit breaker', () => {
  it.each<[Path, Path]>([
    ['fast', 'durable'],
    ['durable', 'fast'],
  ])('failures on the %s path open it; the %s path then avoids the deployment until a probe after the cool-down closes it', async (failOn, thenOn) => {
    h.fake.scriptFor('gpt-flaky', { kind: 'error', status: 500 }, { kind: 'error', status: 502 }, { kind: 'error', status: 503 });
    for (let i = 0; i < 3; i++) {
      const r = await chat(failOn, ask('guarded'));
      expect(r.status).toBe(200);
      expect(r.headers.get('x-gateway-deployment')).toBe('steady');
    }
    expect(callsTo('gpt-flaky')).toBe(3);
    expect(await breakerOf('flaky')).toMatchObject({ state: 'open' });

    // Open: the other path does not call it at all.
    const avoided = await chat(thenOn, ask('guarded'));
    expect(avoided.status).toBe(200);
    expect(avoided.headers.get('x-gateway-deployment')).toBe('steady');
    expect(callsTo('gpt-flaky')).toBe(3);

    // After the cool-down one probe goes through; its success closes the breaker.
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
    const probed = await chat(thenOn, ask('guarded'));
    expect(probed.headers.get('x-gateway-deployment')).toBe('flaky');
    expect(callsTo('gpt-flaky')).toBe(4);
    expect(await breakerOf('flaky')).toMatchObject({ state: 'closed' });
  });

  it('a failed probe opens it again and the request is still answered by the next deployment', async () => {
    h.fake.scriptFor('gpt-flaky', ...Array.from({ length: 4 }, () => ({ kind: 'error' as const, status: 500 })));
    for (let i = 0; i < 3; i++) await chat('fast', ask('guarded'));
    expect(await breakerOf('flaky')).toMatchObject({ state: 'open' });
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
    const r = await chat('durable', ask('guarded'));
    expect(r.headers.get('x-gateway-deployment')).toBe('steady');
    expect(callsTo('gpt-flaky')).toBe(4);
    expect(await breakerOf('flaky')).toMatchObject({ state: 'open' });
    // let it recover so the tests after this one start from a closed breaker
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
    await chat('fast', ask('guarded'));
    expect(await breakerOf('flaky')).toMatchObject({ state: 'closed' });
  });
});

describe('capability rules', () => {
  // ~25k o200k tokens: the character estimate is near the rule's threshold, so the real tokenizer decides.
  const longPrompt = Array.from({ length: 25_000 }, (_, i) => `w${i % 97}`).join(' ');

  it.each<Path>(['fast', 'durable'])('a long prompt goes to the long-context deployment (%s path)', async (path) => {
    const r = await chat(path, ask('tasks', longPrompt));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-gateway-deployment')).toBe('long');
    expect(r.headers.get('x-gateway-routed-by')).toBe('capability:long-context');
    expect(callsTo('gpt-short')).toBe(0);

    const short = await chat(path, ask('tasks', 'a short question'));
    expect(short.headers.get('x-gateway-deployment')).toBe('short');
  });

  it.each<Path>(['fast', 'durable'])('a task tag from the header or from metadata picks the small model (%s path)', async (path) => {
    const byHeader = await chat(path, ask('tasks', 'label this'), { 'x-gateway-tags': 'Classify' });
    expect(byHeader.headers.get('x-gateway-deployment')).toBe('tiny');
    const byMetadata = await chat(path, { ...ask('tasks', 'label this'), metadata: { tags: 'extract,classify' } });
    expect(byMetadata.headers.get('x-gateway-deployment')).toBe('tiny');
    expect(callsTo('gpt-tiny')).toBe(2);
  });

  it('a prompt that fits no deployment under an `only` rule is a clear 400', async () => {
    const huge = Array.from({ length: 300_000 }, (_, i) => `w${i % 97}`).join(' ');
    const longOnly = await chat('fast', { ...ask('tasks', huge), max_tokens: 900_000 });
    expect(longOnly.status).toBe(400);
    expect(longOnly.body.error.message).toMatch(/context window/);
  });
});

describe('hedging (fast path)', () => {
  const streamed = async (model: string) => {
    const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask(model, 'race me'), stream: true }),
    });
    const text = await res.text();
    return { headers: res.headers, text };
  };

  it('starts the next deployment when the first is slower than the hedge delay, takes the first answer and cancels the other', async () => {
    h.fake.scriptFor('gpt-slow', { kind: 'delay', ms: 3_000 });
    const t0 = performance.now();
    const r = await streamed('hedged');
    expect(performance.now() - t0).toBeLessThan(2_500);
    expect(r.headers.get('x-gateway-deployment')).toBe('backup');
    expect(r.text).toContain('[DONE]');
    expect(callsTo('gpt-slow')).toBe(1);
    expect(callsTo('claude-backup')).toBe(1);
    // the loser's upstream request was abandoned, not left running
    await expect.poll(() => h.fake.openRequests, { timeout: 2_000 }).toBe(0);
  });

  it('does not hedge when the first deployment answers in time', async () => {
    const r = await streamed('hedged');
    expect(r.headers.get('x-gateway-deployment')).toBe('slow');
    expect(callsTo('claude-backup')).toBe(0);
  });

  it('without a fixed delay, hedges after the deployment\'s observed P95 time to first token', async () => {
    // no TTFT history yet: no hedge, however slow
    h.fake.scriptFor('gpt-unmeasured', { kind: 'delay', ms: 400 });
    expect((await streamed('hedged-p95')).headers.get('x-gateway-deployment')).toBe('unmeasured');
    expect(callsTo('claude-backup')).toBe(0);
    // fast answers build the window; whichever sample the P95 lands on, it is far below 3 s
    for (let i = 0; i < 30; i++) await streamed('hedged-p95');
    h.fake.reset();
    h.fake.scriptFor('gpt-unmeasured', { kind: 'delay', ms: 3_000 });
    const r = await streamed('hedged-p95');
    expect(r.headers.get('x-gateway-deployment')).toBe('backup');
    expect(callsTo('gpt-unmeasured')).toBe(1);
  });
});

describe('cost-aware cascade', () => {
  const cost = (r: { headers: Headers }) => Number(r.headers.get('x-gateway-cost-usd'));

  it.each<Path>(['fast', 'durable'])('escalates from the cheap stage when its answer is a refusal, and charges both (%s path)', async (path) => {
    h.fake.scriptFor('gpt-cheap', { kind: 'reply', text: "I'm sorry, but I can't help with that." });
    h.fake.scriptFor('claude-strong', { kind: 'reply', text: 'Here is the full and careful answer.' });
    const r = await chat(path, ask('smart', 'explain the proof'));
    expect(r.status).toBe(200);
    expect(r.body.choices[0].message.content).toBe('Here is the full and careful answer.');
    expect(r.headers.get('x-gateway-deployment')).toBe('strong');
    expect(r.headers.get('x-gateway-cascade')).toBe('cheap-alias:rejected(rules/refusal),strong-alias:unevaluated');
    expect(callsTo('gpt-cheap')).toBe(1);
    expect(callsTo('claude-strong')).toBe(1);

    h.fake.reset();
    h.fake.scriptFor('gpt-cheap', { kind: 'reply', text: 'A perfectly good answer from the cheap model.' });
    const cheapOnly = await chat(path, ask('smart', 'explain the proof'));
    expect(cheapOnly.headers.get('x-gateway-cascade')).toBe('cheap-alias:accepted');
    expect(cheapOnly.headers.get('x-gateway-deployment')).toBe('cheap');
    expect(callsTo('claude-strong')).toBe(0);
    // the escalated answer paid for both stages, at the strong stage's higher prices
    expect(cost(cheapOnly)).toBeGreaterThan(0);
    expect(cost(r)).toBeGreaterThan(cost(cheapOnly) * 5);
  });

  it('a streaming client gets the accepted answer as a stream', async () => {
    h.fake.scriptFor('gpt-cheap', { kind: 'reply', text: 'no' });
    const res = await fetch(`${h.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask('smart', 'explain'), stream: true }),
    });
    const text = await res.text();
    expect(res.headers.get('x-gateway-cascade')).toBe('cheap-alias:rejected(rules/min_chars),strong-alias:unevaluated');
    expect(text).toContain('data: [DONE]');
    expect(callsTo('claude-strong')).toBe(1);
  });
});

describe('semantic routing', () => {
  it.each<Path>(['fast', 'durable'])('sends a request to the route whose examples it resembles, else to the groups (%s path)', async (path) => {
    const code = await chat(path, ask('helpdesk', 'my python function throws a type error'));
    expect(code.headers.get('x-gateway-deployment')).toBe('code-dep');
    const billing = await chat(path, ask('helpdesk', 'I was charged twice, please refund my card'));
    expect(billing.headers.get('x-gateway-deployment')).toBe('billing-dep');
    const other = await chat(path, ask('helpdesk', 'what a lovely sunny afternoon'));
    expect(other.headers.get('x-gateway-deployment')).toBe('general');
  });

  it('names the semantic route in the routing header', async () => {
    const code = await chat('fast', ask('helpdesk', 'fix my typescript build error'));
    expect(code.headers.get('x-gateway-routed-by')).toBe('semantic:code');
  });
});
