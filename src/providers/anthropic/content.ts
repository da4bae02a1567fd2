/** Canonical message content to Anthropic content blocks. Pure. */
import type { ChatMessage, UserContentPart } from '../../protocol/chat-request.js';
import { ProviderError } from '../errors.js';
import { parseDataUrl } from '../media.js';
import { toolArgumentsObject } from '../tool-arguments.js';
import type { AnthropicBlock } from './wire.js';

function badRequest(message: string): ProviderError {
  return new ProviderError({ kind: 'bad_request', message });
}


/** The only image types Anthropic accepts; anything else would come back as a 400 after a round trip. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

function imageBlock(url: string): AnthropicBlock {
  if (url.startsWith('data:')) {
    const parsed = parseDataUrl(url);
    if (!parsed) throw badRequest('image data URLs must be base64-encoded');
    if (!IMAGE_TYPES.has(parsed.mimeType)) throw badRequest(`Anthropic does not accept ${parsed.mimeType} images`);
    return { type: 'image', source: { type: 'base64', media_type: parsed.mimeType, data: parsed.data } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw badRequest('image_url must be an http(s) URL or a base64 data URL');
}

function userPart(part: UserContentPart): AnthropicBlock | undefined {
  switch (part.type) {
    case 'text':
      // Anthropic rejects empty text blocks, which OpenAI clients send freely.
      return part.text ? { type: 'text', text: part.text } : undefined;
    case 'image_url':
      return imageBlock(part.image_url.url);
    case 'file': {
      const parsed = part.file.file_data ? parseDataUrl(part.file.file_data) : undefined;
      if (parsed?.mimeType === 'application/pdf') {
        return { type: 'document', source: { type: 'base64', media_type: parsed.mimeType, data: parsed.data } };
      }
      // OpenAI file ids mean nothing upstream; only inline PDFs have an Anthropic equivalent.
      throw badRequest('Anthropic accepts only inline PDF files (file_data as a base64 data URL)');
    }
    case 'input_audio':
      throw badRequest('Anthropic models do not accept audio input');
  }
}

/**
 * Anthropic restricts tool_use ids to [a-zA-Z0-9_-]; a conversation begun on another provider (after a
 * fallback) may carry ids outside that set. Mapping the same way on both sides keeps call and result paired.
 */
export function toolUseId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_');
}

export function userBlocks(content: Extract<ChatMessage, { role: 'user' }>['content']): AnthropicBlock[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return content.map(userPart).filter((b): b is AnthropicBlock => b !== undefined);
}


export function assistantBlocks(msg: Extract<ChatMessage, { role: 'assistant' }>): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  const content = msg.content;
  const text =
    typeof content === 'string'
      ? content
      : (content ?? []).map((p) => (p.type === 'text' ? p.text : p.refusal)).join('');
  if (text) blocks.push({ type: 'text', text });
  for (const call of msg.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: toolUseId(call.id), name: call.function.name, input: toolArgumentsObject(call) });
  }
  return blocks;
}
