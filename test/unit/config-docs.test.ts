/**
 * docs/configuration.md must list every field of the config schema, and nothing the schema no longer has.
 * The schema is enumerated through zod's own JSON Schema export (input side: what a user writes), so fields
 * inside records, lists, unions and discriminated unions (provider types, cache store kinds, evaluator types)
 * are all reached without a hand-kept list.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';

const DOC = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

type Json = Record<string, any>;

interface SchemaPaths {
  /** Paths a user sets a value at (not only an object holding other fields): each must be documented. */
  fields: Set<string>;
  /** Every property path, objects included: a documented path must be one of these. */
  known: Set<string>;
}

/** `<name>`, `<alias>`, … all stand for a record key; `<*>` is how the walker writes one. */
const normalise = (path: string) => path.replace(/<[^>]*>/g, '<*>');

function schemaPaths(schema: z.ZodType): SchemaPaths {
  const root = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  const defs: Json = root.$defs ?? {};
  const fields = new Set<string>();
  const known = new Set<string>();

  const resolve = (s: Json): { node: Json; ref?: string } => {
    if (typeof s.$ref !== 'string') return { node: s };
    const ref = s.$ref;
    return { node: ref === '#' ? root : defs[ref.split('/').pop()!], ref };
  };
  const branchesOf = (s: Json): Json[] | undefined => s.anyOf ?? s.oneOf ?? s.allOf;
  const holdsFields = (s: Json): boolean => {
    const { node } = resolve(s);
    const branches = branchesOf(node);
    if (branches) return branches.some(holdsFields);
    return node.type === 'object' && (node.properties !== undefined || typeof node.additionalProperties === 'object');
  };
  const isValue = (s: Json): boolean => {
    const { node } = resolve(s);
    const branches = branchesOf(node);
    return branches ? branches.some(isValue) : !holdsFields(node);
  };

  const walk = (s: Json, path: string, refs: ReadonlySet<string>): void => {
    const { node, ref } = resolve(s);
    if (ref) {
      if (refs.has(ref)) return; // a recursive schema: its fields were listed at the first level
      refs = new Set([...refs, ref]);
    }
    const branches = branchesOf(node);
    if (branches) {
      for (const b of branches) walk(b, path, refs);
      return;
    }
    if (node.type === 'array') {
      const items: Json[] = Array.isArray(node.prefixItems) ? node.prefixItems : node.items ? [node.items] : [];
      if (items.length === 0 || items.some(isValue)) fields.add(path);
      for (const item of items) walk(item, `${path}[]`, refs);
      return;
    }
    if (!holdsFields(node)) {
      fields.add(path);
      return;
    }
    for (const [key, child] of Object.entries<Json>(node.properties ?? {})) {
      const childPath = path ? `${path}.${key}` : key;
      known.add(childPath);
      walk(child, childPath, refs);
    }
    if (typeof node.additionalProperties === 'object') {
      // A record of plain values (headers, per-alias thresholds) is one field; a record of objects has fields per key.
      if (isValue(node.additionalProperties)) fields.add(path);
      walk(node.additionalProperties, `${path}.<*>`, refs);
    }
  };
  walk(root, '', new Set());
  fields.delete('');
  for (const f of [...fields]) if (f.endsWith('[]') || f.endsWith('.<*>')) fields.delete(f);
  for (const f of fields) known.add(f);
  return { fields, known };
}

/** The first-column paths of every table headed `| path | …`, in order (duplicates kept, to be reported). */
function documentedPaths(markdown: string): string[] {
  const paths: string[] = [];
  let inPathTable = false;
  for (const line of markdown.split('\n')) {
    if (!line.trimStart().startsWith('|')) {
      inPathTable = false;
      continue;
    }
    const firstCell = line.split('|')[1]!.trim();
    if (/^path$/i.test(firstCell)) {
      inPathTable = true;
      continue;
    }
    if (!inPathTable || /^:?-+:?$/.test(firstCell)) continue;
    for (const m of firstCell.matchAll(/`([^`]+)`/g)) paths.push(normalise(m[1]!));
  }
  return paths;
}

function compare(schema: SchemaPaths, documented: readonly string[]) {
  const docSet = new Set(documented);
  return {
    missing: [...schema.fields].filter((p) => !docSet.has(p)).sort(),
    stale: [...docSet].filter((p) => !schema.known.has(p)).sort(),
    duplicated: [...new Set(documented.filter((p, i) => documented.indexOf(p) !== i))].sort(),
  };
}

describe('docs/configuration.md documents the config schema', () => {
  const schema = schemaPaths(configSchema);
  const documented = documentedPaths(readFileSync(DOC, 'utf8'));
  const result = compare(schema, documented);

  it('reaches fields inside records, lists, unions and discriminated unions', () => {
    for (const p of [
      'server.port',
      'durable.devServer.dbFile',
      'durable.temporal.tls', // `true` …
      'durable.temporal.tls.caFile', // … or an object: both shapes
      'providers.<*>.mock.pattern',
      'providers.<*>.headers',
      'auth.keys[].limits.concurrent',
      'auth.store.url', // kind: redis
      'cache.store.maxEntries', // kind: embedded
      'cache.store.collection', // kind: qdrant
      'cache.embedder.pooling', // kind: local
      'cache.thresholds',
      'models.<*>.groups[].deployments', // a name …
      'models.<*>.groups[].deployments[].weight', // … or { deployment, weight }
      'models.<*>.cascade.evaluators[].minScore', // type: judge
      'models.<*>.rules[].use.tier',
      'models.<*>.semantic.embedder.requestDimensions',
    ]) {
      expect(schema.fields, p).toContain(p);
    }
    expect(schema.fields.size).toBeGreaterThan(150);
  });

  it('lists every schema field', () => {
    expect(result.missing, `fields of src/config/schema.ts missing from docs/configuration.md:\n  ${result.missing.join('\n  ')}`).toEqual([]);
  });

  it('lists no field the schema does not have', () => {
    expect(result.stale, `paths in docs/configuration.md that the schema no longer has:\n  ${result.stale.join('\n  ')}`).toEqual([]);
  });

  it('lists each field once', () => {
    expect(result.duplicated).toEqual([]);
  });
});

describe('the documentation check itself', () => {
  const tiny = z.strictObject({
    kept: z.number().default(1),
    gone: z.record(z.string(), z.strictObject({ inner: z.string() })),
    store: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('a'), dir: z.string() }),
      z.strictObject({ kind: z.literal('b'), url: z.string() }),
    ]),
  });
  const doc = [
    '| path | default | meaning |',
    '|---|---|---|',
    '| `kept` | `1` | |',
    '| `store.kind`, `store.dir` | | |',
    '| `renamed.<name>.inner` | | |',
    '| `kept` | | twice |',
    '',
    '| variable | meaning |',
    '|---|---|',
    '| `NOT_A_PATH` | tables not headed `path` are prose |',
  ].join('\n');

  it('reports a missing field, a stale path and a duplicate', () => {
    expect(compare(schemaPaths(tiny), documentedPaths(doc))).toEqual({
      missing: ['gone.<*>.inner', 'store.url'],
      stale: ['renamed.<*>.inner'],
      duplicated: ['kept'],
    });
  });
});
