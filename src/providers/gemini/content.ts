/** Canonical message content to Gemini parts. Pure. */
import { contentText, type ChatMessage, type UserContentPart } from '../../protocol/chat-request.js';
import { ProviderError } from '../errors.js';
import { parseDataUrl } from '../media.js';
import { toolArgumentsObject } from '../tool-arguments.js';
import type { GeminiPart } from './wire.js';

function badRequest(message: string): ProviderError {
  return new ProviderError({ kind: 'bad_request', message });
}


const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

/** fileData's mimeType helps Gemini but is unknown for an arbitrary URL; the extension is the best hint. */
function mimeFromUrl(url: string): string | undefined {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
  return ext ? IMAGE_TYPES[ext] : undefined;
}

function mediaPart(url: string, what: string): GeminiPart {
  if (url.startsWith('data:')) {
    const parsed = parseDataUrl(url);
    if (!parsed) throw badRequest(`${what} data URLs must be base64-encoded`);
    return { inlineData: parsed };
  }
  if (/^https?:\/\//i.test(url)) {
    const mimeType = mimeFromUrl(url);
    return { fileData: mimeType ? { fileUri: url, mimeType } : { fileUri: url } };
  }
  throw badRequest(`${what} must be an http(s) URL or a base64 data URL`);
}

function userPart(part: UserContentPart): GeminiPart | undefined {
  switch (part.type) {
    case 'text':
      return part.text ? { text: part.text } : undefined;
    case 'image_url':
      return mediaPart(part.image_url.url, 'image_url');
    case 'input_audio':
      return { inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } };
    case 'file':
      // OpenAI file ids mean nothing to Gemini; only inline data travels.
      if (!part.file.file_data) throw badRequest('Gemini accepts only inline files (file_data as a base64 data URL)');
      return mediaPart(part.file.file_data, 'file_data');
  }
}

export function userParts(content: Extract<ChatMessage, { role: 'user' }>['content']): GeminiPart[] {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  return content.map(userPart).filter((p): p is GeminiPart => p !== undefined);
}


export function modelParts(msg: Extract<ChatMessage, { role: 'assistant' }>): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const text = contentText(msg.content);
  if (text) parts.push({ text });
  for (const call of msg.tool_calls ?? []) {
    parts.push({ functionCall: { name: call.function.name, args: toolArgumentsObject(call) } });
  }
  return parts;
}

/** Gemini wants a JSON object as the function's response; plain-text results are wrapped. */
export function functionResponsePart(name: string, content: Extract<ChatMessage, { role: 'tool' }>['content']): GeminiPart {
  const text = contentText(content);
  let response: Record<string, unknown> = { content: text };
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) response = parsed as Record<string, unknown>;
  } catch {
    // not JSON: the wrapped text stands
  }
  return { functionResponse: { name, response } };
}
