/**
 * What a semantic-cache miss costs besides the model (`npx tsx bench/cache-miss-path.ts`), issue #15: the
 * current src/ against a baseline commit's src/ (BENCH_BASELINE_REF, default HEAD), loaded side by side in
 * this one process and interleaved request by request, so the machine's load weighs on both alike.
 *
 * Vectors come from the real model (all-MiniLM-L6-v2 int8, GATEWAY_EMBEDDING_MODEL_DIR or ../shared/models),
 * embedded once up front and then served by a remembered-vector embedder (a copy per call, as the memo does),
 * so only the cache's own work is timed:
 * - lookup: SemanticCache.lookup over the embedded store holding 2500 near-duplicate answers in one partition
 *   (every query scores them all and the verifier refuses its candidates: the worst miss);
 * - miss path: what the pipeline does for a miss (cacheBegin, cacheLookup with its header marks) plus the store
 *   of the answer that the response schedules (run here inline; in the gateway it runs after the response, on the
 *   same event loop);
 * - LocalEmbedder memo hit (hash, LRU, copy) of each side.
 * Results: bench/results/cache-miss-path.{json,md}, with `uptime` at the start and the end.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, RESULTS_DIR } from './lib/paths.js';
import { machineMeta, mdTable, writeAtomically } from './lib/report.js';
import { summarize } from './lib/stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N = { entries: 2500, queries: QUICK ? 100 : 300, rounds: QUICK ? 2 : 5 };
const REF = process.env.BENCH_BASELINE_REF ?? 'HEAD';
const MODEL_DIR = path.resolve(process.env.GATEWAY_EMBEDDING_MODEL_DIR ?? path.join(ROOT, '../shared/models/all-MiniLM-L6-v2'));
const ALIAS = 'bench';

/** The same prompt shapes as bench/embedder.ts: near-duplicates that differ in a number. */
const SUBJECTS = ['my password', 'a Python function', 'the invoice for March', 'a flight to Lisbon', 'the TypeScript build', 'a birthday message', 'the refund', 'my router', 'this SQL query', 'a cover letter'];
const ASKS = ['How do I fix', 'Can you explain', 'What is the best way to handle', 'Write a short note about', 'Why does something go wrong with'];
const prompt = (i: number) => `${ASKS[i % ASKS.length]} ${SUBJECTS[Math.floor(i / ASKS.length) % SUBJECTS.length]}? (case ${i})`;

/** The baseline's src/ extracted under the checkout (so node_modules resolve), once per commit. */
function baselineSrc(): { dir: string; commit: string } {
  const commit = execSync(`git rev-parse ${REF}`, { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = path.join(ROOT, 'scratch', `baseline-${commit.slice(0, 12)}`);
  if (!existsSync(path.join(dir, 'src'))) {
    mkdirSync(dir, { recursive: true });
    execSync(`git archive ${commit} src | tar -x -C ${JSON.stringify(dir)}`, { cwd: ROOT });
  }
  return { dir: path.join(dir, 'src'), commit };
}

async function load(src: string) {
  const imp = (p: string) => import(pathToFileURL(path.join(src, p)).href);
  const [semantic, store, schema, pipeline, local, logger] = await Promise.all([
    imp('cache/semantic-cache.ts'),
    imp('cache/embedded/store.ts'),
    imp('config/cache-schema.ts'),
    imp('pipeline/cache.ts'),
    imp('embeddings/local.ts'),
    imp('observability/logger.ts'),
  ]);
  return { semantic, store, schema, pipeline, local, logger };
}
type Impl = Awaited<ReturnType<typeof load>>;

const ask = (content: string) => ({ model: ALIAS, messages: [{ role: 'user' as const, content }] });
const answer = { id: 'a', object: 'chat.completion' as const, created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant' as const, content: 'ok' }, finish_reason: 'stop' as const }] };
const control = { noCache: false, noStore: false };

/** The model's vectors, remembered: a copy per call as LocalEmbedder's memo hands out. */
function rememberedEmbedder(id: string, dimension: number, vectors: Map<string, Float32Array>) {
  return {
    id,
    dimension,
    async embed(texts: readonly string[]) {
      return texts.map((t) => Float32Array.from(vectors.get(t)!));
    },
  };
}

async function side(impl: Impl, id: string, dimension: number, vectors: Map<string, Float32Array>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-miss-path-'));
  const store = await impl.store.EmbeddedVectorStore.open({ dir, dimension });
  const cache = new impl.semantic.SemanticCache(impl.schema.cacheSchema.parse({ enabled: true }), store, rememberedEmbedder(id, dimension, vectors), { logger: impl.logger.createLogger('silent') });
  for (let i = 0; i < N.entries; i++) await cache.store(cache.ticket(ask(prompt(500_000 + i)), 'bench', control), answer);
  const ctx = { cache, config: { models: { [ALIAS]: {} } } };
  return { dir, cache, store, ctx };
}

async function main() {
  const uptimeStart = execSync('uptime', { encoding: 'utf8' }).trim();
  const base = baselineSrc();
  const impls = { before: await load(base.dir), after: await load(path.join(ROOT, 'src')) } as const;
  type Which = keyof typeof impls;
  const names: Which[] = ['before', 'after'];

  const embedder = new impls.after.local.LocalEmbedder({ dir: MODEL_DIR, memoEntries: 0 });
  await embedder.ready();
  const texts = [...Array.from({ length: N.entries }, (_, i) => prompt(500_000 + i)), ...Array.from({ length: N.queries * N.rounds }, (_, i) => prompt(600_000 + i))];
  const vectors = new Map<string, Float32Array>();
  for (const t of texts) vectors.set(t, (await embedder.embed([t]))[0]!);
  await embedder.close();

  const sides = Object.fromEntries(await Promise.all(names.map(async (w) => [w, await side(impls[w], embedder.id, embedder.dimension, vectors)]))) as Record<Which, Awaited<ReturnType<typeof side>>>;
  const lookupMs = { before: [] as number[], after: [] as number[] };
  const missMs = { before: [] as number[], after: [] as number[] };
  const refused = { before: 0, after: 0 };
  const verdicts = { before: new Map<string, number>(), after: new Map<string, number>() };
  const job = (content: string) => ({ request: ask(content), principal: { tenant: 'bench' }, cacheControl: undefined, signal: undefined, trail: {} as Record<string, unknown> });
  const reply = { header() {} };
  let q = 0;
  for (let r = 0; r < N.rounds; r++) {
    for (let i = 0; i < N.queries; i++, q++) {
      const text = prompt(600_000 + q);
      for (let k = 0; k < names.length; k++) {
        const w = names[(q + k) % names.length]!;
        const { cache, ctx } = sides[w];
        // lookup alone, on a ticket whose vector is known (as once the model answered)
        const t = cache.ticket(ask(text), 'bench', control);
        await cache.embedder.embed([text]);
        let t0 = performance.now();
        await cache.lookup(t);
        lookupMs[w].push(performance.now() - t0);
        if (t.refused) refused[w]++;
        const v = t.refused?.verdict ?? 'none';
        verdicts[w].set(v, (verdicts[w].get(v) ?? 0) + 1);
        // the pipeline's miss: begin (ticket, prefetch), lookup and marks, then the store the response schedules;
        // a text of its own so the exact tier and the store see a new request each time
        const j = job(`${text} (${w})`);
        vectors.set(j.request.messages[0]!.content, vectors.get(text)!);
        t0 = performance.now();
        const begun = impls[w].pipeline.cacheBegin(ctx, j);
        const out = await impls[w].pipeline.cacheLookup(ctx, j, reply, begun);
        await cache.store(out.route.ticket, answer);
        missMs[w].push(performance.now() - t0);
      }
    }
  }
  for (const w of names) {
    await sides[w].cache.close();
    rmSync(sides[w].dir, { recursive: true, force: true });
  }
  const uptimeEnd = execSync('uptime', { encoding: 'utf8' }).trim();
  const s = { lookup: { before: summarize(lookupMs.before), after: summarize(lookupMs.after) }, miss: { before: summarize(missMs.before), after: summarize(missMs.after) } };
  const sameVerdicts = JSON.stringify([...verdicts.before].sort()) === JSON.stringify([...verdicts.after].sort());
  const result = { machine: machineMeta(), uptimeStart, uptimeEnd, baseline: base.commit, settings: N, lookupMs: s.lookup, missPathMs: s.miss, refused, verdicts: { before: Object.fromEntries(verdicts.before), after: Object.fromEntries(verdicts.after) }, sameVerdicts };
  writeAtomically(path.join(RESULTS_DIR, 'cache-miss-path.json'), `${JSON.stringify(result, null, 2)}\n`);
  const row = (what: string, x: { before: ReturnType<typeof summarize>; after: ReturnType<typeof summarize> }) => [what, `${x.before.p50} / ${x.before.p90} / ${x.before.p99}`, `${x.after.p50} / ${x.after.p90} / ${x.after.p99}`];
  const md = [
    '# A semantic-cache miss without the model (bench/cache-miss-path.ts)',
    '',
    `Before: src/ of ${base.commit.slice(0, 12)}; after: the working tree. Both in one process, interleaved per request; ${N.entries} near-duplicate answers in the partition, ${N.queries * N.rounds} queries each, vectors from all-MiniLM-L6-v2 int8 remembered. ${QUICK ? 'QUICK run (noisy).' : ''}`,
    '',
    `uptime at start: \`${uptimeStart}\``,
    '',
    `uptime at end: \`${uptimeEnd}\``,
    '',
    ...mdTable(['what (ms)', 'before p50 / p90 / p99', 'after p50 / p90 / p99'], [
      row('SemanticCache.lookup: search 2500 near-duplicates + verify (miss)', s.lookup),
      row('pipeline miss: cacheBegin + cacheLookup + store of the answer', s.miss),
    ]),
    '',
    `Refused (a candidate above the threshold turned down): before ${refused.before}, after ${refused.after}; verdicts ${sameVerdicts ? 'identical' : '**differ**'}: ${JSON.stringify(result.verdicts)}.`,
    '',
  ].join('\n');
  writeAtomically(path.join(RESULTS_DIR, 'cache-miss-path.md'), md);
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
