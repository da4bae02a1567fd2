/**
 * Is an answer the JSON the request asked for? `json_object`: any JSON object. `json_schema`: also valid
 * against the request's schema, with ajv (draft-07 plus the standard formats; unknown keywords are ignored,
 * as OpenAI's structured outputs accept some ajv does not know).
 *
 * Compiled validators are kept in a small LRU keyed by the schema's text, since clients resend the same
 * schema on every call. Ajv's own cache is keyed by the schema object, which is new on every request, so each
 * compiled schema is removed from it again; otherwise it would grow without bound.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const MAX_CACHED = 256;
const ajv = new Ajv({ strict: false, allErrors: false, logger: false, validateSchema: false });
addFormats.default(ajv);
const cache = new Map<string, ValidateFunction | Error>();

export type JsonCheck = { ok: true } | { ok: false; reason: string } | { ok: 'unchecked'; reason: string };

export function checkJsonAnswer(text: string, format: { type: 'json_object' } | { type: 'json_schema'; schema?: Record<string, unknown> }): JsonCheck {
  let value: unknown;
  try {
    // No leniency for a markdown fence around the JSON: the client's JSON.parse would fail on it too.
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not valid JSON (${(err as Error).message})` };
  }
  if (format.type === 'json_object') {
    return isPlainObject(value) ? { ok: true } : { ok: false, reason: 'JSON but not an object' };
  }
  if (!format.schema) return { ok: true };
  const validate = validatorFor(format.schema);
  // A schema ajv cannot compile says nothing about the answer: the model may well have honoured it.
  if (validate instanceof Error) return { ok: 'unchecked', reason: `schema not checkable (${validate.message})` };
  if (validate(value)) return { ok: true };
  const first = validate.errors?.[0];
  return { ok: false, reason: `does not match the schema: ${first ? `${first.instancePath || '/'} ${first.message ?? ''}`.trim() : 'invalid'}` };
}

function validatorFor(schema: Record<string, unknown>): ValidateFunction | Error {
  const key = JSON.stringify(schema);
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  let made: ValidateFunction | Error;
  try {
    made = ajv.compile(schema);
  } catch (err) {
    made = err instanceof Error ? err : new Error(String(err));
  } finally {
    ajv.removeSchema(schema);
  }
  cache.set(key, made);
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return made;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
