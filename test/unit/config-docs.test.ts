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
  /** Scalar (and empty `{}` / `[]`) defaults by path, as the docs write them; a path may differ per union branch. */
  defaults: Map<string, Set<string>>;
}

interface DocumentedRow {
  paths: string[];
  /** The row's `default` column, when its table has one. */
  defaultCell?: string;
}

/** A default as a doc cell shows it: `true`, `8080`, `.data/cache`, `{}`. Richer defaults are described in words. */
function shownDefault(value: unknown): string | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.length === 0) return '[]';
  if (value && typeof value === 'object' && Object.keys(value).length === 0) return '{}';
  return undefined;
}

/** `<name>`, `<alias>`, … all stand for a record key; `<*>` is how the walker writes one. */
const normalise = (path: string) => path.replace(/<[^>]*>/g, '<*>');

function schemaPaths(schema: z.ZodType): SchemaPaths {
  const root = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  const defs: Json = root.$defs ?? {};
  const fields = new Set<string>();
  const known = new Set<string>();
  const defaults = new Map<string, Set<string>>();

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
      const shown = shownDefault(child.default);
      if (shown !== undefined) defaults.set(childPath, (defaults.get(childPath) ?? new Set()).add(shown));
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
  return { fields, known, defaults };
}

/** The rows of every table headed `| path | …`: the backticked paths of the first column, and the default column. */
function documentedRows(markdown: string): DocumentedRow[] {
  const rows: DocumentedRow[] = [];
  let defaultColumn: number | undefined;
  let inPathTable = false;
  for (const line of markdown.split('\n')) {
    if (!line.trimStart().startsWith('|')) {
      inPathTable = false;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (/^path$/i.test(cells[0]!)) {
      inPathTable = true;
      const d = cells.findIndex((c) => /^default$/i.test(c));
      defaultColumn = d >= 0 ? d : undefined;
      continue;
    }
    if (!inPathTable || /^:?-+:?$/.test(cells[0]!)) continue;
    rows.push({
      paths: [...cells[0]!.matchAll(/`([^`]+)`/g)].map((m) => normalise(m[1]!)),
      defaultCell: defaultColumn === undefined ? undefined : cells[defaultColumn],
    });
  }
  return rows;
}

function compare(schema: SchemaPaths, rows: readonly DocumentedRow[]) {
  const documented = rows.flatMap((r) => r.paths);
  const docSet = new Set(documented);
  const wrongDefaults: string[] = [];
  for (const row of rows) {
    if (row.defaultCell === undefined) continue;
    const shownInCell = new Set([...row.defaultCell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
    for (const path of row.paths) {
      for (const d of schema.defaults.get(path) ?? []) {
        if (!shownInCell.has(d)) wrongDefaults.push(`${path}: the schema's default is \`${d}\`, the docs say ${row.defaultCell || '(nothing)'}`);
      }
    }
  }
  return {
    missing: [...schema.fields].filter((p) => !docSet.has(p)).sort(),
    stale: [...docSet].filter((p) => !schema.known.has(p)).sort(),
    duplicated: [...new Set(documented.filter((p, i) => documented.indexOf(p) !== i))].sort(),
    wrongDefaults: wrongDefaults.sort(),
  };
}

describe('docs/configuration.md documents the config schema', () => {
  const schema = schemaPaths(configSchema);
  const result = compare(schema, documentedRows(readFileSync(DOC, 'utf8')));

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

  it('gives each field the default the schema has', () => {
    expect(schema.defaults.get('server.port')).toEqual(new Set(['8080'])); // the walker sees defaults at all
    expect(result.wrongDefaults, `defaults in docs/configuration.md that differ from the schema:\n  ${result.wrongDefaults.join('\n  ')}`).toEqual([]);
  });
});

describe('the documentation check itself', () => {
  const tiny = z.strictObject({
    kept: z.number().default(1),
    port: z.number().default(8080),
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
    '| `port` | `8000` | a wrong default |',
    '| `store.kind`, `store.dir` | | |',
    '| `renamed.<name>.inner` | | |',
    '| `kept` | | twice |',
    '',
    '| variable | meaning |',
    '|---|---|',
    '| `NOT_A_PATH` | tables not headed `path` are prose |',
  ].join('\n');

  it('reports a missing field, a stale path, a duplicate and a wrong default', () => {
    expect(compare(schemaPaths(tiny), documentedRows(doc))).toEqual({
      missing: ['gone.<*>.inner', 'store.url'],
      stale: ['renamed.<*>.inner'],
      duplicated: ['kept'],
      wrongDefaults: ['kept: the schema\'s default is `1`, the docs say (nothing)', 'port: the schema\'s default is `8080`, the docs say `8000`'],
    });
  });
});
