/**
 * The canonical request: OpenAI's chat completions shape, validated at ingress.
 * Every adapter translates from this, so it is the one contract between ingress, decision and egress.
 * Unknown top-level fields are kept (OpenAI adds parameters often) but go upstream only when the alias lists them
 * in `passthrough` (src/providers/upstream-fields.ts).
 */
import { z } from 'zod';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().min(1),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const audioPart = z.object({
  type: z.literal('input_audio'),
  input_audio: z.object({ data: z.string(), format: z.enum(['wav', 'mp3']) }),
});
const filePart = z.object({
  type: z.literal('file'),
  file: z.object({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }),
});
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });

export const userContentPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);

const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const systemMessage = z.object({
  role: z.literal('system'),
  content: z.union([z.string(), z.array(textPart).min(1)]),
  name: z.string().optional(),
});
const developerMessage = z.object({
  role: z.literal('developer'),
  content: z.union([z.string(), z.array(textPart).min(1)]),
  name: z.string().optional(),
});
const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(userContentPart).min(1)]),
  name: z.string().optional(),
});
const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart])), z.null()]).optional(),
  refusal: z.string().nullable().optional(),
  tool_calls: z.array(toolCall).optional(),
  name: z.string().optional(),
});
const toolMessage = z.object({
  role: z.literal('tool'),
  content: z.union([z.string(), z.array(textPart).min(1)]),
  tool_call_id: z.string().min(1),
});

export const chatMessage = z.discriminatedUnion('role', [
  systemMessage,
  developerMessage,
  userMessage,
  assistantMessage,
  toolMessage,
]);

const functionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1).max(64),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(chatMessage).min(1),
  tools: z.array(functionTool).min(1).max(128).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  user: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
}).superRefine((req, ctx) => {
  const problem = toolChoiceProblem(req.tool_choice, req.tools?.map((t) => t.function.name));
  if (problem) ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: problem });
});

/**
 * Why a tool choice cannot be honoured, as OpenAI words it; undefined when it can. Checked here rather than left
 * to the upstream: only OpenAI itself would refuse it, other providers would answer without the forced tool.
 */
function toolChoiceProblem(choice: z.infer<typeof toolChoice> | undefined, tools: string[] | undefined): string | undefined {
  if (choice === undefined) return undefined;
  if (!tools) return "'tool_choice' is only allowed when 'tools' are specified";
  if (typeof choice === 'object' && !tools.includes(choice.function.name)) return `no tool named '${choice.function.name}' is in 'tools'`;
  return undefined;
}

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof chatMessage>;
export type UserContentPart = z.infer<typeof userContentPart>;
export type ToolCall = z.infer<typeof toolCall>;
export type FunctionTool = z.infer<typeof functionTool>;

/** The output budget the client asked for, whichever of OpenAI's two names it used. */
export function requestedMaxTokens(req: ChatRequest): number | undefined {
  return req.max_completion_tokens ?? req.max_tokens ?? undefined;
}

/** Text of a message's content whatever its form; non-text parts are dropped. */
export function contentText(content: ChatMessage['content'] | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' ? p.text : p.type === 'refusal' ? p.refusal : '')).join('');
}

export const embeddingsRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1).max(2048),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1).max(2048),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});
export type EmbeddingsRequest = z.infer<typeof embeddingsRequestSchema>;
