/** URL routing and the per-provider envelope around answers: auth rules, ids, error bodies. */
import type http from 'node:http';
import { anthropicAdapter, anthropicErrorBody } from './anthropic.js';
import { geminiAdapter, geminiErrorBody } from './gemini.js';
import { createOpenAIAdapter, openaiErrorBody } from './openai.js';
import type { ChatAdapter, Protocol } from './types.js';

export const adapters: Record<Protocol, ChatAdapter> = {
  openai: createOpenAIAdapter('openai'),
  azure: createOpenAIAdapter('azure'),
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
};

export type Route =
  | { type: 'chat'; protocol: Protocol; urlModel?: string; urlStream?: boolean }
  | { type: 'embeddings'; protocol: 'openai' | 'azure'; urlModel?: string }
  | { type: 'gemini-embed'; urlModel: string; batch: boolean }
  | { type: 'models' }
  | { type: 'control'; name: string };

const AZURE_RE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const GEMINI_RE = /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)$/;

export function route(method: string, path: string): Route | undefined {
  if (path.startsWith('/__')) return { type: 'control', name: `${method} ${path}` };
  if (method === 'GET' && path === '/v1/models') return { type: 'models' };
  if (method !== 'POST') return undefined;
  if (path === '/v1/chat/completions') return { type: 'chat', protocol: 'openai' };
  if (path === '/v1/embeddings') return { type: 'embeddings', protocol: 'openai' };
  if (path === '/v1/messages') return { type: 'chat', protocol: 'anthropic' };
  let m = AZURE_RE.exec(path);
  if (m) {
    const urlModel = decodeURIComponent(m[1]!);
    return m[2] === 'embeddings' ? { type: 'embeddings', protocol: 'azure', urlModel } : { type: 'chat', protocol: 'azure', urlModel };
  }
  m = GEMINI_RE.exec(path);
  if (m) {
    const urlModel = decodeURIComponent(m[1]!);
    if (m[2] === 'embedContent' || m[2] === 'batchEmbedContents') return { type: 'gemini-embed', urlModel, batch: m[2] === 'batchEmbedContents' };
    return { type: 'chat', protocol: 'gemini', urlModel, urlStream: m[2] === 'streamGenerateContent' };
  }
  return undefined;
}

export function protocolOf(r: Route): Protocol | undefined {
  if (r.type === 'chat' || r.type === 'embeddings') return r.protocol;
  if (r.type === 'gemini-embed') return 'gemini';
  if (r.type === 'models') return 'openai';
  return undefined;
}

/** Missing credentials/version answered exactly as each provider does. */
export function authFailure(protocol: Protocol, h: http.IncomingHttpHeaders, query: Record<string, string>, requestId: string) {
  const bearer = /^Bearer\s+\S+/i.test(h.authorization ?? '');
  switch (protocol) {
    case 'openai':
      if (!bearer)
        return {
          status: 401,
          body: openaiErrorBody(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            null,
          ),
        };
      return undefined;
    case 'azure':
      if (!h['api-key'] && !bearer)
        return {
          status: 401,
          body: openaiErrorBody(401, 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.', '401'),
        };
      if (!query['api-version']) return { status: 400, body: openaiErrorBody(400, 'Missing required query parameter: api-version', '400', 'api-version') };
      return undefined;
    case 'anthropic':
      // The official SDK (v1.x) sends its API key as a Bearer token; x-api-key is the documented header.
      if (!h['x-api-key'] && !bearer) return { status: 401, body: anthropicErrorBody(401, requestId, 'x-api-key header is required') };
      if (!h['anthropic-version']) return { status: 400, body: anthropicErrorBody(400, requestId, 'anthropic-version: header is required') };
      return undefined;
    case 'gemini':
      if (!h['x-goog-api-key'] && !query.key)
        return {
          status: 403,
          body: geminiErrorBody(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
        };
      return undefined;
  }
}

export function invalidBody(protocol: Protocol, issues: string[], requestId: string): unknown {
  const message = issues.join('; ');
  if (protocol === 'anthropic') return anthropicErrorBody(400, requestId, message);
  if (protocol === 'gemini') return geminiErrorBody(400, message);
  // OpenAI names the offending parameter.
  const param = /^([^\s:]+):/.exec(issues[0] ?? '')?.[1];
  return openaiErrorBody(400, message, null, param && param !== '(root)' ? param : null);
}

export function idHeaders(protocol: Protocol, requestId: string): Record<string, string> {
  if (protocol === 'anthropic') return { 'request-id': requestId };
  if (protocol === 'azure') return { 'x-request-id': requestId, 'apim-request-id': requestId };
  if (protocol === 'openai') return { 'x-request-id': requestId };
  return {};
}

export function modelList(protocol: Protocol): unknown {
  if (protocol === 'anthropic') {
    const data = ['claude-sonnet-4-5', 'claude-haiku-4-5'].map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-10-01T00:00:00Z' }));
    return { data, has_more: false, first_id: data[0]!.id, last_id: data.at(-1)!.id };
  }
  const ids = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'];
  return { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })) };
}
