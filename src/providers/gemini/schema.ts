/**
 * JSON Schema (what OpenAI clients send as tool parameters) to the OpenAPI subset Gemini's
 * `FunctionDeclaration.parameters` accepts. Gemini's parser rejects the whole request on any keyword outside
 * its Schema type ("Unknown name \"additionalProperties\""), so unknown keywords are dropped, not forwarded.
 * Pure.
 */

/** The fields of Gemini's Schema type; everything else is JSON Schema that Gemini cannot parse. */
const KEPT = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'propertyOrdering',
  'default',
  'minimum',
  'maximum',
]);

/** String and number formats Gemini documents; others (uri, email, ...) are refused. */
const FORMATS = new Set(['enum', 'date-time', 'float', 'double', 'int32', 'int64']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function toGeminiSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (KEPT.has(key)) out[key] = value;
  }
  // JSON Schema spells "nullable string" as a type list; Gemini wants one type plus `nullable`.
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== 'null');
    out.type = types[0] ?? 'string';
    if (types.length < schema.type.length) out.nullable = true;
  }
  if (typeof out.format === 'string' && !FORMATS.has(out.format)) delete out.format;
  // Gemini enums are string-only; a numeric enum is dropped (losing the constraint) rather than failing the call.
  if (Array.isArray(out.enum) && !out.enum.every((v) => typeof v === 'string')) delete out.enum;
  if (isRecord(schema.properties)) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, sub]) => [name, isRecord(sub) ? toGeminiSchema(sub) : sub]),
    );
  }
  if (isRecord(schema.items)) out.items = toGeminiSchema(schema.items);
  if (Array.isArray(schema.anyOf)) out.anyOf = schema.anyOf.map((s) => (isRecord(s) ? toGeminiSchema(s) : s));
  return out;
}

/**
 * A declaration's `parameters`, or undefined for a tool without arguments: Gemini refuses an OBJECT schema
 * with empty `properties`, and a declaration without `parameters` is how it spells "no arguments".
 */
export function toolParameters(schema: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!schema) return undefined;
  const converted = toGeminiSchema(schema);
  const props = converted.properties;
  if (converted.type === 'object' && (!isRecord(props) || Object.keys(props).length === 0)) return undefined;
  return converted;
}
