/**
 * Request-body validators written from the providers' documented request shapes.
 * OpenAI tolerates unknown top-level fields (and Azure adds its own), but validates messages strictly;
 * Anthropic and Gemini reject fields that do not exist, which is how translation bugs surface here.
 * The semantic checks mirror 400s the real APIs return for well-typed but inconsistent bodies.
 */
import { z } from 'zod';

type Issues = string[];

function formatPath(path: PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

function formatIssues(issues: readonly z.core.$ZodIssue[], base: PropertyKey[] = [], out: Issues = []): Issues {
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest; it is the one the client meant.
      let best = issue.errors[0]!;
      let depth = -1;
      for (const branch of issue.errors) {
        const d = Math.max(0, ...branch.map((i) => i.path.length));
        if (d > depth) [best, depth] = [branch, d];
      }
      if (depth > 0) {
        formatIssues(best, path, out);
        continue;
      }
    }
    out.push(`${formatPath(path)}: ${issue.message}`);
  }
  return out;
}

function check(schema: z.ZodType, body: unknown, semantic?: (b: any) => Issues): Issues {
  const parsed = schema.safeParse(body);
  if (!parsed.success) return formatIssues(parsed.error.issues);
  return semantic ? semantic(body) : [];
}

const int = (min = 0) => z.number().int().min(min);
const jsonObject = z.record(z.string(), z.unknown());

// ---------------------------------------------------------------- OpenAI / Azure OpenAI

const oaText = z.strictObject({ type: z.literal('text'), text: z.string() });
const oaRefusal = z.strictObject({ type: z.literal('refusal'), refusal: z.string() });
const oaUserPart = z.discriminatedUnion('type', [
  oaText,
  z.strictObject({
    type: z.literal('image_url'),
    image_url: z.strictObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
  }),
  z.strictObject({
    type: z.literal('input_audio'),
    input_audio: z.strictObject({ data: z.string(), format: z.enum(['wav', 'mp3']) }),
  }),
  z.strictObject({
    type: z.literal('file'),
    file: z.strictObject({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }),
  }),
]);
const oaTextContent = z.union([z.string(), z.array(oaText)]);
const oaToolCall = z.discriminatedUnion('type', [
  z.strictObject({
    id: z.string().min(1),
    type: z.literal('function'),
    // A string, not an object: sending parsed arguments is a classic translation bug.
    function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
  }),
  z.strictObject({
    id: z.string().min(1),
    type: z.literal('custom'),
    custom: z.strictObject({ name: z.string(), input: z.string() }),
  }),
]);
const name = z.string().optional();
const oaMessage = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('system'), content: oaTextContent, name }),
  z.strictObject({ role: z.literal('developer'), content: oaTextContent, name }),
  z.strictObject({ role: z.literal('user'), content: z.union([z.string(), z.array(oaUserPart)]), name }),
  z.strictObject({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [oaText, oaRefusal]))]).nullish(),
    refusal: z.string().nullish(),
    name,
    tool_calls: z.array(oaToolCall).min(1).optional(),
    function_call: z.strictObject({ name: z.string(), arguments: z.string() }).nullish(),
    audio: z.strictObject({ id: z.string() }).nullish(),
    // Present on response messages, which clients routinely send back verbatim.
    annotations: z.array(z.unknown()).optional(),
  }),
  z.strictObject({ role: z.literal('tool'), content: oaTextContent, tool_call_id: z.string().min(1) }),
  z.strictObject({ role: z.literal('function'), content: z.string().nullable(), name: z.string() }),
]);
const oaTool = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('function'),
    function: z.strictObject({
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'function name must match ^[a-zA-Z0-9_-]{1,64}$'),
      description: z.string().optional(),
      parameters: jsonObject.optional(),
      strict: z.boolean().nullish(),
    }),
  }),
  z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: z.string() }) }),
]);
const oaToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string() }) }),
  z.looseObject({ type: z.enum(['allowed_tools', 'custom']) }),
]);

function openaiChatSchema(modelRequired: boolean) {
  return z.looseObject({
    model: modelRequired ? z.string().min(1) : z.string().optional(),
    messages: z.array(oaMessage).min(1),
    tools: z.array(oaTool).min(1).optional(),
    tool_choice: oaToolChoice.optional(),
    parallel_tool_calls: z.boolean().optional(),
    stream: z.boolean().nullish(),
    stream_options: z.strictObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).nullish(),
    max_tokens: int(1).nullish(),
    max_completion_tokens: int(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    n: int(1).max(128).nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: int(0).max(20).nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    seed: z.number().int().nullish(),
    user: z.string().optional(),
    logit_bias: z.record(z.string(), z.number()).nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    response_format: z
      .discriminatedUnion('type', [
        z.strictObject({ type: z.literal('text') }),
        z.strictObject({ type: z.literal('json_object') }),
        z.strictObject({
          type: z.literal('json_schema'),
          json_schema: z.strictObject({
            name: z.string().min(1),
            description: z.string().optional(),
            schema: jsonObject.optional(),
            strict: z.boolean().nullish(),
          }),
        }),
      ])
      .optional(),
  });
}
const openaiChat = openaiChatSchema(true);
const azureChat = openaiChatSchema(false);

function openaiChatSemantics(body: any): Issues {
  const issues: Issues = [];
  if (body.stream_options != null && body.stream !== true)
    issues.push("stream_options: The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  if (body.top_logprobs != null && body.logprobs !== true)
    issues.push("top_logprobs: 'logprobs' must be set to true when 'top_logprobs' is used.");
  if (body.tool_choice != null && body.tool_choice !== 'none' && body.tool_choice !== 'auto' && !body.tools)
    issues.push("tool_choice: 'tool_choice' is only allowed when 'tools' are specified.");
  const messages: any[] = body.messages;
  let pending = new Set<string>();
  let pendingAt = -1;
  messages.forEach((m, i) => {
    if (m.role === 'tool') {
      if (!pending.delete(m.tool_call_id))
        issues.push(
          `messages.${i}: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (unknown tool_call_id ${m.tool_call_id}).`,
        );
      return;
    }
    if (pending.size > 0) {
      issues.push(
        `messages.${pendingAt}: An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].join(', ')}`,
      );
    }
    pending = new Set();
    if (m.role === 'assistant') {
      if (m.content == null && !m.tool_calls && !m.function_call)
        issues.push(`messages.${i}: assistant message must have 'content' unless 'tool_calls' or 'function_call' is specified.`);
      for (const c of m.tool_calls ?? []) pending.add(c.id);
      pendingAt = i;
    }
  });
  if (pending.size > 0)
    issues.push(
      `messages.${pendingAt}: An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].join(', ')}`,
    );
  return issues;
}

export function validateOpenAIChat(body: unknown, azure = false): Issues {
  return check(azure ? azureChat : openaiChat, body, openaiChatSemantics);
}

function embeddingsSchema(modelRequired: boolean) {
  return z.looseObject({
    model: modelRequired ? z.string().min(1) : z.string().optional(),
    input: z.union([
      z.string().min(1),
      z.array(z.string().min(1)).min(1).max(2048),
      z.array(z.number().int()).min(1),
      z.array(z.array(z.number().int()).min(1)).min(1),
    ]),
    encoding_format: z.enum(['float', 'base64']).optional(),
    dimensions: int(1).optional(),
    user: z.string().optional(),
  });
}
const openaiEmbeddings = embeddingsSchema(true);
const azureEmbeddings = embeddingsSchema(false);

export function validateOpenAIEmbeddings(body: unknown, azure = false): Issues {
  return check(azure ? azureEmbeddings : openaiEmbeddings, body);
}

// ---------------------------------------------------------------- Anthropic Messages

const cacheControl = z.strictObject({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() }).nullish();
const anText = z.strictObject({
  type: z.literal('text'),
  text: z.string(),
  cache_control: cacheControl,
  citations: z.array(z.unknown()).nullish(),
});
const anImage = z.strictObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('base64'),
      media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
      data: z.string().min(1),
    }),
    z.strictObject({ type: z.literal('url'), url: z.string().min(1) }),
    z.strictObject({ type: z.literal('file'), file_id: z.string().min(1) }),
  ]),
  cache_control: cacheControl,
});
const anDocument = z.looseObject({ type: z.literal('document'), source: z.looseObject({ type: z.string() }) });
const anSearchResult = z.looseObject({ type: z.literal('search_result'), source: z.string(), title: z.string() });
const anToolUse = z.strictObject({
  type: z.literal('tool_use'),
  id: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'tool_use.id must match ^[a-zA-Z0-9_-]+$'),
  name: z.string().min(1),
  input: jsonObject,
  cache_control: cacheControl,
  caller: z.unknown().optional(),
});
const anToolResult = z.strictObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [anText, anImage, anDocument, anSearchResult]))]).optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});
// Server-tool and other rarely used blocks: checked only for a documented type.
const anServerBlock = z.looseObject({
  type: z.enum([
    'server_tool_use',
    'web_search_tool_result',
    'web_fetch_tool_result',
    'code_execution_tool_result',
    'bash_code_execution_tool_result',
    'text_editor_code_execution_tool_result',
    'tool_search_tool_result',
    'container_upload',
    'mcp_tool_use',
    'mcp_tool_result',
  ]),
});
const anBlock = z.discriminatedUnion('type', [
  anText,
  anImage,
  anDocument,
  anSearchResult,
  anToolUse,
  anToolResult,
  z.strictObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() }),
  z.strictObject({ type: z.literal('redacted_thinking'), data: z.string() }),
  anServerBlock,
]);
const anTool = z.union([
  z.strictObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/, 'tool name must match ^[a-zA-Z0-9_-]{1,128}$'),
    description: z.string().optional(),
    input_schema: z.looseObject({ type: z.literal('object') }),
    type: z.literal('custom').nullish(),
    cache_control: cacheControl,
    strict: z.boolean().optional(),
    defer_loading: z.boolean().optional(),
    eager_input_streaming: z.boolean().nullish(),
    input_examples: z.array(jsonObject).optional(),
    allowed_callers: z.array(z.string()).optional(),
  }),
  // Versioned server tools, e.g. web_search_20250305.
  z.looseObject({ type: z.string().regex(/_\d{8}$/), name: z.string() }),
]);
const parallel = { disable_parallel_tool_use: z.boolean().optional() };
const anthropicMessages = z.strictObject({
  model: z.string().min(1),
  max_tokens: int(1),
  messages: z
    .array(z.strictObject({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(anBlock)]) }))
    .min(1),
  system: z.union([z.string(), z.array(anText)]).optional(),
  metadata: z.strictObject({ user_id: z.string().nullish() }).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: int(0).optional(),
  tools: z.array(anTool).optional(),
  tool_choice: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('auto'), ...parallel }),
      z.strictObject({ type: z.literal('any'), ...parallel }),
      z.strictObject({ type: z.literal('tool'), name: z.string().min(1), ...parallel }),
      z.strictObject({ type: z.literal('none') }),
    ])
    .optional(),
  thinking: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('enabled'), budget_tokens: int(1024), display: z.string().optional() }),
      z.strictObject({ type: z.literal('disabled') }),
      z.looseObject({ type: z.literal('adaptive') }),
    ])
    .optional(),
  service_tier: z.enum(['auto', 'standard_only']).optional(),
  // Newer / beta top-level fields, accepted as opaque values.
  container: z.unknown().optional(),
  mcp_servers: z.array(z.unknown()).optional(),
  context_management: z.unknown().optional(),
  output_config: z.unknown().optional(),
  output_format: z.unknown().optional(),
  cache_control: cacheControl,
  inference_geo: z.string().nullish(),
  speed: z.enum(['standard', 'fast']).nullish(),
  diagnostics: z.unknown().optional(),
  user_profile_id: z.string().optional(),
  workspace_id: z.string().optional(),
});

type AnBlock = { type: string; [k: string]: any };
const blocksOf = (content: string | AnBlock[]): AnBlock[] =>
  typeof content === 'string' ? [{ type: 'text', text: content }] : content;

function anthropicSemantics(body: any): Issues {
  const issues: Issues = [];
  const messages: Array<{ role: string; content: string | AnBlock[] }> = body.messages;
  // The API merges consecutive same-role messages into one turn, so pairing rules apply per turn.
  const turns: Array<{ role: string; blocks: AnBlock[]; first: number }> = [];
  messages.forEach((m, i) => {
    const blocks = blocksOf(m.content);
    const last = i === messages.length - 1;
    if (blocks.length === 0 && !(last && m.role === 'assistant'))
      issues.push(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
    blocks.forEach((b, j) => {
      if (b.type === 'text' && b.text === '' && !(last && m.role === 'assistant'))
        issues.push(`messages.${i}.content.${j}: text content blocks must be non-empty`);
      if (b.type === 'tool_use' && m.role !== 'assistant')
        issues.push(`messages.${i}.content.${j}: tool_use blocks are only allowed in assistant messages`);
      if (b.type === 'tool_result' && m.role !== 'user')
        issues.push(`messages.${i}.content.${j}: tool_result blocks are only allowed in user messages`);
    });
    const prev = turns[turns.length - 1];
    if (prev && prev.role === m.role) prev.blocks.push(...blocks);
    else turns.push({ role: m.role, blocks: [...blocks], first: i });
  });
  turns.forEach((t, k) => {
    const results = t.blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id as string);
    const prev = turns[k - 1];
    const offered = new Set(prev?.role === 'assistant' ? prev.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id) : []);
    const unexpected = results.filter((id) => !offered.has(id));
    if (t.role === 'user' && unexpected.length > 0)
      issues.push(
        `messages.${t.first}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
      );
    if (t.role !== 'assistant') return;
    const uses = t.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id as string);
    const next = turns[k + 1];
    if (uses.length === 0 || !next) return;
    const answered = new Set(next.blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    const missing = uses.filter((id) => !answered.has(id));
    if (missing.length > 0)
      issues.push(
        `messages.${t.first}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      );
  });
  if (body.tool_choice && body.tool_choice.type !== 'none' && !(body.tools?.length > 0))
    issues.push('tool_choice: tool_choice may only be specified while providing tools');
  return issues;
}

export function validateAnthropicMessages(body: unknown): Issues {
  return check(anthropicMessages, body, anthropicSemantics);
}

// ---------------------------------------------------------------- Gemini

/**
 * Gemini's JSON mapping accepts both lowerCamelCase and the proto's snake_case names
 * (its own REST samples use `system_instruction`, `inline_data`), so bodies are camelized
 * before strict validation. Free-form values (function args, JSON schemas, property maps)
 * keep their keys.
 */
const FREEFORM = new Set(['args', 'response', 'parametersJsonSchema', 'responseJsonSchema', '_responseJsonSchema', 'example', 'default', 'partMetadata']);
const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function camelizeGemini(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => camelizeGemini(v, parentKey));
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [rawKey, v] of Object.entries(value)) {
    // Inside a schema's `properties` map the keys are user field names.
    const key = parentKey === 'properties' ? rawKey : camel(rawKey);
    if (key === 'response' && parentKey !== 'functionResponse') out[key] = camelizeGemini(v, key);
    else out[key] = FREEFORM.has(key) ? v : camelizeGemini(v, key);
  }
  return out;
}

const gSchemaType = z
  .string()
  .refine((t) => ['TYPE_UNSPECIFIED', 'STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'].includes(t.toUpperCase()), {
    message: 'unknown Schema type',
  });
const int64 = z.union([z.number().int().min(0), z.string().regex(/^\d+$/)]);
// The OpenAPI-3.0 subset Gemini documents for `parameters` / `responseSchema`: no additionalProperties, $ref, oneOf, $schema.
const gSchema: z.ZodType = z.lazy(() =>
  z.strictObject({
    type: gSchemaType.optional(),
    format: z.string().optional(),
    title: z.string().optional(),
    description: z.string().optional(),
    nullable: z.boolean().optional(),
    enum: z.array(z.string()).optional(),
    items: gSchema.optional(),
    maxItems: int64.optional(),
    minItems: int64.optional(),
    properties: z.record(z.string(), gSchema).optional(),
    required: z.array(z.string()).optional(),
    minProperties: int64.optional(),
    maxProperties: int64.optional(),
    minLength: int64.optional(),
    maxLength: int64.optional(),
    pattern: z.string().optional(),
    example: z.unknown().optional(),
    anyOf: z.array(gSchema).optional(),
    propertyOrdering: z.array(z.string()).optional(),
    default: z.unknown().optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
  }),
);
const DATA_FIELDS = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'] as const;
const gPart = z
  .strictObject({
    text: z.string().optional(),
    inlineData: z.strictObject({ mimeType: z.string().min(1), data: z.string().min(1) }).optional(),
    fileData: z.strictObject({ mimeType: z.string().optional(), fileUri: z.string().min(1) }).optional(),
    functionCall: z.strictObject({ id: z.string().optional(), name: z.string().min(1), args: jsonObject.optional() }).optional(),
    functionResponse: z
      .strictObject({
        id: z.string().optional(),
        name: z.string().min(1),
        response: jsonObject,
        parts: z.array(z.unknown()).optional(),
        willContinue: z.boolean().optional(),
        scheduling: z.string().optional(),
      })
      .optional(),
    executableCode: z.looseObject({}).optional(),
    codeExecutionResult: z.looseObject({}).optional(),
    thought: z.boolean().optional(),
    thoughtSignature: z.string().optional(),
    videoMetadata: z.looseObject({}).optional(),
    partMetadata: jsonObject.optional(),
    mediaResolution: z.unknown().optional(),
  })
  .superRefine((p, ctx) => {
    const set = DATA_FIELDS.filter((f) => p[f] !== undefined);
    if (set.length !== 1)
      ctx.addIssue({ code: 'custom', message: `a Part must set exactly one data field (${DATA_FIELDS.join('|')}), got ${set.length === 0 ? 'none' : set.join(', ')}` });
  });
const gContent = z.strictObject({ role: z.enum(['user', 'model']).optional(), parts: z.array(gPart).min(1) });
const gTool = z.strictObject({
  functionDeclarations: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/, 'function name must start with a letter or underscore and use only a-z, A-Z, 0-9, _ . : -'),
        description: z.string().optional(),
        behavior: z.string().optional(),
        parameters: gSchema.optional(),
        parametersJsonSchema: z.unknown().optional(),
        response: gSchema.optional(),
        responseJsonSchema: z.unknown().optional(),
      }),
    )
    .optional(),
  googleSearchRetrieval: z.unknown().optional(),
  codeExecution: z.unknown().optional(),
  googleSearch: z.unknown().optional(),
  urlContext: z.unknown().optional(),
  computerUse: z.unknown().optional(),
  fileSearch: z.unknown().optional(),
  googleMaps: z.unknown().optional(),
  mcpServers: z.unknown().optional(),
});
const geminiGenerate = z.strictObject({
  model: z.string().optional(),
  contents: z.array(gContent).min(1),
  systemInstruction: z.strictObject({ role: z.string().optional(), parts: z.array(gPart).min(1) }).optional(),
  tools: z.array(gTool).optional(),
  toolConfig: z
    .strictObject({
      functionCallingConfig: z
        .strictObject({
          mode: z.enum(['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED']).optional(),
          allowedFunctionNames: z.array(z.string()).optional(),
        })
        .optional(),
      retrievalConfig: z.unknown().optional(),
    })
    .optional(),
  safetySettings: z.array(z.strictObject({ category: z.string(), threshold: z.string(), method: z.string().optional() })).optional(),
  generationConfig: z
    .strictObject({
      stopSequences: z.array(z.string()).max(5).optional(),
      responseMimeType: z.string().optional(),
      responseSchema: gSchema.optional(),
      responseJsonSchema: z.unknown().optional(),
      _responseJsonSchema: z.unknown().optional(),
      responseModalities: z.array(z.string()).optional(),
      candidateCount: int(1).optional(),
      maxOutputTokens: int(1).optional(),
      temperature: z.number().min(0).max(2).optional(),
      topP: z.number().min(0).max(1).optional(),
      topK: int(0).optional(),
      seed: z.number().int().optional(),
      presencePenalty: z.number().optional(),
      frequencyPenalty: z.number().optional(),
      responseLogprobs: z.boolean().optional(),
      logprobs: int(0).max(20).optional(),
      enableEnhancedCivicAnswers: z.boolean().optional(),
      speechConfig: z.unknown().optional(),
      thinkingConfig: z
        .strictObject({ includeThoughts: z.boolean().optional(), thinkingBudget: z.number().int().optional(), thinkingLevel: z.string().optional() })
        .optional(),
      imageConfig: z.unknown().optional(),
      mediaResolution: z.string().optional(),
    })
    .optional(),
  cachedContent: z.string().optional(),
});

type GPart = Record<string, any>;
function geminiSemantics(body: any): Issues {
  const issues: Issues = [];
  const contents: Array<{ role?: string; parts: GPart[] }> = body.contents;
  const calls = (c: { parts: GPart[] } | undefined) => c?.parts.filter((p) => p.functionCall).length ?? 0;
  const responses = (c: { parts: GPart[] } | undefined) => c?.parts.filter((p) => p.functionResponse).length ?? 0;
  contents.forEach((c, i) => {
    const prev = contents[i - 1];
    if (calls(c) > 0) {
      if (c.role !== 'model') issues.push(`contents.${i}: functionCall parts are only allowed in role 'model' content`);
      if (i === 0 || prev?.role === 'model')
        issues.push(`contents.${i}: Please ensure that function call turn comes immediately after a user turn or after a function response turn.`);
    }
    if (responses(c) > 0) {
      if (calls(prev) === 0)
        issues.push(`contents.${i}: Please ensure that function response turn comes immediately after a function call turn.`);
      else if (calls(prev) !== responses(c))
        issues.push(
          `contents.${i}: Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.`,
        );
    }
  });
  const gc = body.generationConfig;
  if (gc?.responseSchema && (gc.responseJsonSchema || gc._responseJsonSchema))
    issues.push('generationConfig: responseSchema and responseJsonSchema are mutually exclusive');
  if ((gc?.responseSchema || gc?.responseJsonSchema) && gc.responseMimeType !== 'application/json' && gc.responseMimeType !== 'text/x.enum')
    issues.push('generationConfig.responseMimeType: a response schema requires responseMimeType application/json or text/x.enum');
  body.tools?.forEach((t: any, i: number) =>
    t.functionDeclarations?.forEach((f: any, j: number) => {
      if (f.parameters && f.parametersJsonSchema)
        issues.push(`tools.${i}.functionDeclarations.${j}: parameters and parametersJsonSchema are mutually exclusive`);
    }),
  );
  return issues;
}

/** Returns the camelized body too, since replies are built from it. */
export function validateGeminiGenerate(body: unknown): { issues: Issues; normalized: any } {
  const normalized = camelizeGemini(body);
  return { issues: check(geminiGenerate, normalized, geminiSemantics), normalized };
}

const embedFields = {
  content: gContent,
  taskType: z.string().optional(),
  title: z.string().optional(),
  outputDimensionality: int(1).optional(),
};
const geminiEmbed = z.strictObject({ model: z.string().optional(), ...embedFields });
const geminiBatchEmbed = z.strictObject({ requests: z.array(z.strictObject({ model: z.string(), ...embedFields })).min(1) });

export function validateGeminiEmbed(body: unknown, batch: boolean, urlModel: string): { issues: Issues; normalized: any } {
  const normalized = camelizeGemini(body);
  if (!batch) return { issues: check(geminiEmbed, normalized), normalized };
  const issues = check(geminiBatchEmbed, normalized, (b) =>
    b.requests.flatMap((r: any, i: number) =>
      r.model === `models/${urlModel}` ? [] : [`requests.${i}.model: Model names should match the request model models/${urlModel}, got ${r.model}`],
    ),
  );
  return { issues, normalized };
}
