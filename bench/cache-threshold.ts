/**
 * Calibrates the semantic cache's similarity threshold for the default (offline) embedder on a labelled set of
 * paraphrases and hard near misses (test/fixtures/paraphrases.json): precision and recall against the
 * threshold, for the embedder alone and for the cache's whole rule (similarity plus the number/negation
 * guard). The threshold is chosen on the even-numbered pairs (calibration) and reported on the odd ones
 * (holdout), so the numbers are not only a fit. Results: bench/results/cache-threshold.{json,md}.
 *
 *   npx tsx bench/cache-threshold.ts
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CACHE_THRESHOLD, DEFAULT_CATCH_ALL_THRESHOLD } from '../src/config/cache-schema.js';
import { guardOf } from '../src/cache/guard.js';
import { OfflineEmbedder } from '../src/embeddings/offline.js';
import { dot } from '../src/embeddings/types.js';
import { machineMeta, mdTable, textTable, writeAtomically } from './lib/report.js';
import { RESULTS_DIR, ROOT } from './lib/paths.js';

interface Pair {
  a: string;
  b: string;
  label: 'paraphrase' | 'different';
  kind: string;
}

interface Scored extends Pair {
  index: number;
  similarity: number;
  guardAgrees: boolean;
}

interface Point {
  threshold: number;
  precision: number;
  recall: number;
  accepted: number;
  falseHits: number;
}

const pairs = (JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/paraphrases.json'), 'utf8')) as { pairs: Pair[] }).pairs;
const embedder = new OfflineEmbedder();

const scored: Scored[] = [];
for (const [index, p] of pairs.entries()) {
  const [a, b] = await embedder.embed([p.a, p.b]);
  scored.push({ ...p, index, similarity: dot(a!, b!), guardAgrees: guardOf(p.a) === guardOf(p.b) });
}

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

function curve(set: Scored[], useGuard: boolean): Point[] {
  const out: Point[] = [];
  const positives = set.filter((s) => s.label === 'paraphrase').length;
  for (let t = 0.4; t <= 1.0001; t += 0.01) {
    const accepted = set.filter((s) => s.similarity >= t - 1e-9 && (!useGuard || s.guardAgrees));
    const tp = accepted.filter((s) => s.label === 'paraphrase').length;
    out.push({
      threshold: round(t, 2),
      precision: accepted.length === 0 ? 1 : round(tp / accepted.length),
      recall: round(tp / positives),
      accepted: accepted.length,
      falseHits: accepted.length - tp,
    });
  }
  return out;
}

/** The lowest threshold from which precision stays at least `min` all the way up. */
function lowestStable(points: Point[], min: number): number {
  let pick = 1;
  for (let i = points.length - 1; i >= 0; i--) {
    if (points[i]!.precision < min) break;
    pick = points[i]!.threshold;
  }
  return pick;
}

const calibration = scored.filter((s) => s.index % 2 === 0);
const holdout = scored.filter((s) => s.index % 2 === 1);
const calibrationCurve = curve(calibration, true);
const recommended = lowestStable(calibrationCurve, 1);
const recommendedCatchAll = lowestStable(calibrationCurve, 0.9);
const at = (points: Point[], t: number) => points.find((p) => Math.abs(p.threshold - t) < 1e-6)!;

const curves = {
  calibration: { policy: calibrationCurve, embedderOnly: curve(calibration, false) },
  holdout: { policy: curve(holdout, true), embedderOnly: curve(holdout, false) },
  all: { policy: curve(scored, true), embedderOnly: curve(scored, false) },
};

const kinds = [...new Set(scored.map((s) => s.kind))];
const byKind = kinds.map((kind) => {
  const set = scored.filter((s) => s.kind === kind);
  const sims = set.map((s) => s.similarity).sort((a, b) => a - b);
  const label = set[0]!.label;
  const acceptedAtDefault = set.filter((s) => s.similarity >= DEFAULT_CACHE_THRESHOLD && s.guardAgrees).length;
  return {
    kind,
    label,
    pairs: set.length,
    minSimilarity: round(sims[0]!, 3),
    medianSimilarity: round(sims[Math.floor(sims.length / 2)]!, 3),
    maxSimilarity: round(sims.at(-1)!, 3),
    acceptedAtDefault,
    caughtByGuard: set.filter((s) => !s.guardAgrees).length,
  };
});

const worstNegatives = scored
  .filter((s) => s.label === 'different')
  .sort((a, b) => b.similarity - a.similarity)
  .slice(0, 8)
  .map((s) => ({ a: s.a, b: s.b, kind: s.kind, similarity: round(s.similarity, 3), guardAgrees: s.guardAgrees }));

const summary = {
  ...machineMeta(),
  embedder: embedder.id,
  pairs: { total: scored.length, paraphrases: scored.filter((s) => s.label === 'paraphrase').length, calibration: calibration.length, holdout: holdout.length },
  recommended: { threshold: recommended, catchAllThreshold: recommendedCatchAll },
  configuredDefaults: { threshold: DEFAULT_CACHE_THRESHOLD, catchAllThreshold: DEFAULT_CATCH_ALL_THRESHOLD },
  atDefault: {
    calibration: at(curves.calibration.policy, DEFAULT_CACHE_THRESHOLD),
    holdout: at(curves.holdout.policy, DEFAULT_CACHE_THRESHOLD),
    holdoutEmbedderOnly: at(curves.holdout.embedderOnly, DEFAULT_CACHE_THRESHOLD),
    all: at(curves.all.policy, DEFAULT_CACHE_THRESHOLD),
  },
  atCatchAll: {
    holdout: at(curves.holdout.policy, DEFAULT_CATCH_ALL_THRESHOLD),
    all: at(curves.all.policy, DEFAULT_CATCH_ALL_THRESHOLD),
  },
  byKind,
  worstNegatives,
};

const sweepRows = curves.all.policy
  .filter((p) => Math.round(p.threshold * 100) % 5 === 0 || Math.abs(p.threshold - DEFAULT_CACHE_THRESHOLD) < 1e-6 || Math.abs(p.threshold - DEFAULT_CATCH_ALL_THRESHOLD) < 1e-6)
  .map((p) => {
    const c = at(curves.calibration.policy, p.threshold);
    const h = at(curves.holdout.policy, p.threshold);
    const e = at(curves.all.embedderOnly, p.threshold);
    return [p.threshold.toFixed(2), c.precision.toFixed(3), c.recall.toFixed(3), h.precision.toFixed(3), h.recall.toFixed(3), e.precision.toFixed(3), e.recall.toFixed(3)];
  });
const sweepHead = ['threshold', 'calib. precision', 'calib. recall', 'holdout precision', 'holdout recall', 'embedder-only precision (all)', 'embedder-only recall (all)'];

console.log(`embedder ${embedder.id}, ${scored.length} pairs`);
console.log(textTable(sweepHead, sweepRows));
console.log(`recommended threshold (precision 1.0 on calibration from here up): ${recommended}; configured default: ${DEFAULT_CACHE_THRESHOLD}`);
console.log(`recommended catch-all threshold (precision ≥ 0.9 on calibration): ${recommendedCatchAll}; configured: ${DEFAULT_CATCH_ALL_THRESHOLD}`);

writeAtomically(path.join(RESULTS_DIR, 'cache-threshold.json'), `${JSON.stringify({ ...summary, curves }, null, 1)}\n`);
const md = [
  '# Semantic cache threshold calibration',
  '',
  `Embedder \`${embedder.id}\` (the offline default) on ${scored.length} hand-written pairs in \`test/fixtures/paraphrases.json\`:`,
  `${summary.pairs.paraphrases} paraphrases and ${scored.length - summary.pairs.paraphrases} hard near misses (same words, another number, entity,`,
  'negation or antonym, direction, or intent). "Policy" is what the cache accepts: similarity ≥ threshold **and** the',
  'same numbers and negation (src/cache/guard.ts). The threshold is picked on the even-numbered pairs (calibration):',
  'the lowest from which precision stays 1.0, because a wrong cached answer is worse than a miss. The odd-numbered',
  'pairs (holdout) were not used to pick it.',
  '',
  `- recommended threshold: **${recommended}** (configured default: ${DEFAULT_CACHE_THRESHOLD})`,
  `- at the default, holdout: precision ${summary.atDefault.holdout.precision}, recall ${summary.atDefault.holdout.recall} (embedder alone: precision ${summary.atDefault.holdoutEmbedderOnly.precision}, recall ${summary.atDefault.holdoutEmbedderOnly.recall})`,
  `- at the default, all pairs: precision ${summary.atDefault.all.precision}, recall ${summary.atDefault.all.recall}, false hits ${summary.atDefault.all.falseHits}`,
  `- catch-all threshold ${DEFAULT_CATCH_ALL_THRESHOLD} (recommended for precision ≥ 0.9: ${recommendedCatchAll}): all pairs precision ${summary.atCatchAll.all.precision}, recall ${summary.atCatchAll.all.recall}`,
  '',
  '## Precision and recall against the threshold',
  '',
  ...mdTable(sweepHead, sweepRows),
  '',
  '## By kind of pair',
  '',
  ...mdTable(
    ['kind', 'label', 'pairs', 'similarity min / median / max', `accepted at ${DEFAULT_CACHE_THRESHOLD}`, 'stopped by the guard'],
    byKind.map((k) => [k.kind, k.label, String(k.pairs), `${k.minSimilarity} / ${k.medianSimilarity} / ${k.maxSimilarity}`, String(k.acceptedAtDefault), String(k.caughtByGuard)]),
  ),
  '',
  '## The most similar near misses',
  '',
  ...mdTable(
    ['a', 'b', 'kind', 'similarity', 'guard agrees'],
    worstNegatives.map((w) => [w.a, w.b, w.kind, w.similarity.toFixed(3), w.guardAgrees ? 'yes' : 'no (rejected)']),
  ),
  '',
  'A lexical embedder cannot tell an antonym from a synonym ("open" / "closed"), so those near misses are the',
  'ones that bound the threshold; a neural embedder (`embedder: { kind: provider | local }`) needs its own',
  'calibration with this script before its threshold is trusted.',
  '',
  `_${summary.date}, Node ${summary.node}_`,
  '',
];
writeAtomically(path.join(RESULTS_DIR, 'cache-threshold.md'), md.join('\n'));
