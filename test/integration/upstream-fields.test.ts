/**
 * What goes upstream is chosen, on both paths: the fake provider records the body it received. A client's
 * `store: true`, `service_tier`, `user`, `metadata` and invented fields never reach the upstream of an alias
 * that does not list them, and reach it when the alias's `passthrough` does — on the fast path, with
 * `x-gateway-durable: true` and through POST /v1/requests (the workflow's callProvider activity).
 */
import { describe, expect, it } from 'vitest';
import { useDurableHarness } from '../support/durable-harness.js';

const yaml = `
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-upstream-fields }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-upstream-fields }
deployments:
  closed-oa: { provider: oa, model: m-closed }
  open-oa: { provider: oa, model: m-open }
  closed-an: { provider: an, model: claude-closed }
models:
  closed: { groups: [{ deployments: [closed-oa] }] }
  open: { groups: [{ deployments: [open-oa] }], passthrough: [store, x_tenant_flag] }
  claude: { groups: [{ deployments: [closed-an] }] }
defaults:
  fallback: { attemptsPerDeployment: 1 }
`;

const h = useDurableHarness(yaml);

/** Everything a hostile tenant might add to a chat request. */
const hostileBody = (model: string, content: string) => ({
  model,
  messages: [{ role: 'user', content }],
  temperature: 0.3,
  store: true,
  service_tier: 'priority',
  user: 'someone-elses-user',
  metadata: { tags: 'x' },
  x_tenant_flag: 'on',
  web_search_options: {},
});

type Path = 'fast' | 'durable' | 'submitted';

async function send(path: Path, body: unknown): Promise<void> {
  const headers = { 'content-type': 'application/json', ...(path === 'durable' && { 'x-gateway-durable': 'true' }) };
  if (path !== 'submitted') {
    const res = await fetch(`${h.gateway.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(200);
    return;
  }
  const submitted = await fetch(`${h.gateway.url}/v1/requests`, { method: 'POST', headers, body: JSON.stringify(body) });
  expect(submitted.status).toBe(202);
  const { id } = (await submitted.json()) as { id: string };
  let view: { status: string } = { status: 'queued' };
  for (let i = 0; i < 6 && (view.status === 'queued' || view.status === 'running'); i++) {
    view = (await (await fetch(`${h.gateway.url}/v1/requests/${id}?wait=10s`)).json()) as { status: string };
  }
  expect(view.status).toBe('succeeded');
}

/** The body the upstream received for the one chat call of the request. */
function upstreamBody(): Record<string, unknown> {
  const chats = h.fake.requests.filter((r) => r.kind === 'chat');
  expect(chats).toHaveLength(1);
  return chats[0]!.body as Record<string, unknown>;
}

describe.each<Path>(['fast', 'durable', 'submitted'])('the %s path', (path) => {
  it('drops account fields and invented fields for an alias that lists none', async () => {
    await send(path, hostileBody('closed', `closed ${path}`));
    const body = upstreamBody();
    expect(body).toMatchObject({ model: 'm-closed', temperature: 0.3, messages: [{ role: 'user', content: `closed ${path}` }] });
    for (const f of ['store', 'service_tier', 'user', 'metadata', 'x_tenant_flag', 'web_search_options']) expect(body, f).not.toHaveProperty(f);
  });

  it("forwards what the alias's passthrough lists, and nothing else", async () => {
    await send(path, hostileBody('open', `open ${path}`));
    const body = upstreamBody();
    expect(body).toMatchObject({ model: 'm-open', store: true, x_tenant_flag: 'on' });
    for (const f of ['service_tier', 'user', 'metadata', 'web_search_options']) expect(body, f).not.toHaveProperty(f);
  });
});

describe('a translating provider', () => {
  it('Anthropic gets neither the invented fields nor the user id (its fake rejects unknown fields)', async () => {
    await send('fast', hostileBody('claude', 'to claude'));
    const body = upstreamBody();
    expect(body).toMatchObject({ model: 'claude-closed', temperature: 0.3 });
    for (const f of ['store', 'service_tier', 'user', 'metadata', 'x_tenant_flag']) expect(body, f).not.toHaveProperty(f);
  });
});
