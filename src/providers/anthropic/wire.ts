/**
 * The parts of Anthropic's Messages API the gateway reads or writes. Only what is used is typed, so a new
 * upstream field never breaks parsing; unknown block and event types are skipped by the translators.
 */

export type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: AnthropicImageSource }
  | { type: 'document'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string };

export interface AnthropicMessageParam {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessageParam[];
  system?: string;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  tools?: Array<{ name: string; description?: string; input_schema: Record<string, unknown> }>;
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
  stream?: true;
}

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** A response content block, loosely typed: thinking and server-tool blocks arrive too and are skipped. */
export interface AnthropicContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: string | null;
  stop_sequence?: string | null;
  usage?: AnthropicUsage;
}

export interface AnthropicErrorDetail {
  type?: string;
  message?: string;
}

/**
 * Stream events as one loose shape keyed by `type`, every other field optional: Anthropic documents that new
 * event types may appear, so the translator reads only the fields each known type carries.
 */
export type AnthropicStreamEvent = { type: string } & Partial<{
  message: AnthropicMessage;
  index: number;
  content_block: AnthropicContentBlock;
  delta: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null; stop_sequence?: string | null };
  usage: AnthropicUsage;
  error: AnthropicErrorDetail;
}>;
