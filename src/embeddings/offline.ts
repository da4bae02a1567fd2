/**
 * The zero-download default embedder: hashed lexical features in a fixed dimension, L2-normalised.
 * Deterministic and pure JS, so it runs anywhere with no model and no network.
 *
 * It cannot know meaning, so it leans on what separates a paraphrase from a near miss in the questions people
 * send to a chat model: the same content words in another order or inflection (word + character n-gram
 * features, a light stemmer, a small synonym table, filler words damped) versus a different number, entity or
 * a negation (weighted far above ordinary words, so one of them changing moves the vector a long way).
 */
import { type Embedder, normalise } from './types.js';

export const OFFLINE_EMBEDDER_VERSION = 'v1';

export interface OfflineEmbedderOptions {
  /** Vector length; more dimensions mean fewer hash collisions and a slower cache scan. */
  dimension?: number;
}

/** Words that carry grammar rather than content. */
const STOPWORDS = new Set(
  'a an the of to in on at by for from with about as into onto over under than then that this these those it its is are was were be been being am do does did doing done has have had having will would shall should can could may might must i me my mine we us our you your yours he him his she her they them their there here what which who whom whose when where why how if or and but so such some any each every all both either neither just also too very really quite only own same other another more most much many few'.split(
    ' ',
  ),
);

/** Politeness and framing that paraphrases add or drop freely. */
const FILLERS = new Set('please kindly tell know want like need help wonder wondering explain show give let thanks thank hi hello hey ok okay actually basically exactly simply'.split(' '));

/** What a question asks for: "when" and "why" about the same thing are different questions. */
const QUESTION_WORDS: Record<string, string> = { what: 'what', which: 'what', who: 'who', whom: 'who', whose: 'who', when: 'when', where: 'where', why: 'why', how: 'how' };

/** Prepositions whose object gives a direction ("from A to B" is not "from B to A"). */
const DIRECTIONAL = new Set(['from', 'to', 'into', 'onto', 'than', 'toward', 'towards', 'versus', 'vs']);

const NEGATIONS = new Set(['not', 'no', 'never', 'without', 'none', 'nothing', 'nobody', 'nowhere', 'neither', 'nor']);

const CONTRACTIONS: Array<[RegExp, string]> = [
  [/\bcan't\b/g, 'can not'],
  [/\bwon't\b/g, 'will not'],
  [/\bshan't\b/g, 'shall not'],
  [/\bcannot\b/g, 'can not'],
  [/n't\b/g, ' not'],
  [/'re\b/g, ' are'],
  [/'m\b/g, ' am'],
  [/'ll\b/g, ' will'],
  [/'ve\b/g, ' have'],
  [/'d\b/g, ' would'],
  [/\b(what|where|who|how|that|there|it|he|she)'s\b/g, '$1 is'],
  [/'s\b/g, ''],
];

const NUMBER_WORDS: Record<string, string> = {
  zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
  eleven: '11', twelve: '12', twenty: '20', thirty: '30', forty: '40', fifty: '50', hundred: '100', thousand: '1000',
  first: '1st', second: '2nd', third: '3rd', fourth: '4th', fifth: '5th', half: '0.5', dozen: '12', twice: '2x', double: '2x',
};

/**
 * Common interchangeable words in requests, mapped (after stemming) to one representative. Kept general:
 * a table fitted to one test set would only flatter the numbers.
 */
const SYNONYM_GROUPS = [
  'buy purchase',
  'make create build generate produce',
  'delete remove erase',
  'fix repair resolve solve',
  'begin start commence',
  'end finish complete',
  'big large huge',
  'small little tiny',
  'fast quick rapid speedy',
  'slow sluggish',
  'get obtain acquire fetch retrieve',
  'use utilize employ',
  'show display',
  'error issue problem bug',
  'car automobile vehicle',
  'child kid',
  'movie film',
  'cheap inexpensive affordable',
  'expensive costly pricey',
  'correct right accurate',
  'wrong incorrect',
  'job occupation profession career',
  'author writer',
  'doctor physician',
  'house home residence',
  'picture photo image',
  'choose pick select',
  'change modify alter',
  'stop halt',
  'mistake error',
  'answer reply respond response',
  'ask inquire',
  'difference differ distinguish',
  'meaning mean definition define',
  'happy glad',
  'sad unhappy',
  'shut close',
  'improve enhance',
  'reduce lower decrease',
  'increase raise boost',
  'cost price',
  'way method approach',
  'simple easy',
  'hard difficult',
  'allow permit',
  'install setup',
  'convert transform',
  'translate translation',
  'summarize summary summarise',
  'recipe cook',
  'weather forecast',
  'rule regulation',
  'country nation',
  'purpose goal aim',
  'benefit advantage',
  'drawback disadvantage downside',
  'instruction step',
  'tutorial guide',
  'list enumerate',
  'compute calculate',
  'write compose draft',
].map((g) => g.split(' '));

const SYNONYMS = new Map<string, string>();
for (const group of SYNONYM_GROUPS) for (const w of group) SYNONYMS.set(stem(w), stem(group[0]!));

/** A light suffix stripper: enough to fold plurals, tenses and -ly adverbs; not a linguistic stemmer. */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3 || /\d/.test(w)) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (/(sh|ch|x|z)es$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length > 4) w = undouble(w.slice(0, -2));
  else if (w.endsWith('ly') && w.length > 4) w = w.slice(0, -2);
  if (w.endsWith('e') && w.length > 4) w = w.slice(0, -1);
  return w;
}

function undouble(w: string): string {
  if (w.length > 3 && w.at(-1) === w.at(-2) && !/[lsz]/.test(w.at(-1)!)) return w.slice(0, -1);
  return w;
}

export interface Token {
  /** Normalised, stemmed, synonym-folded form. */
  term: string;
  kind: 'number' | 'negation' | 'question' | 'entity' | 'word' | 'stop' | 'filler';
}

/** Splits a text into the tokens features are made from. */
export function tokenize(text: string): Token[] {
  // Capitalised words not at a sentence start are probably names: kept as such before lowercasing.
  const entities = new Set<string>();
  const raw = text.normalize('NFKC');
  for (const m of raw.matchAll(/(?<![.!?]\s+|^\s*)\b(\p{Lu}[\p{L}\p{N}]+)/gu)) entities.add(m[1]!.toLowerCase());
  let s = raw
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/[\u2018\u2019\u02bc`]/g, "'");
  for (const [re, to] of CONTRACTIONS) s = s.replace(re, to);
  // Keep decimals and thousands separators inside numbers; everything else that is not a letter or digit splits.
  s = s.replace(/(\d)[,_](?=\d{3}\b)/g, '$1').replace(/(?<!\d)\.|\.(?!\d)/g, ' ').replace(/[^\p{L}\p{N}.%$€£]+/gu, ' ');
  const out: Token[] = [];
  for (const w of s.split(' ')) {
    if (!w) continue;
    const num = NUMBER_WORDS[w];
    if (num !== undefined || /^[$€£]?\d/.test(w)) {
      out.push({ term: num ?? w.replace(/^[$€£]/, ''), kind: 'number' });
      continue;
    }
    if (NEGATIONS.has(w)) {
      out.push({ term: 'not', kind: 'negation' });
      continue;
    }
    const q = QUESTION_WORDS[w];
    if (q !== undefined) {
      out.push({ term: q, kind: 'question' });
      continue;
    }
    if (STOPWORDS.has(w)) {
      out.push({ term: w, kind: 'stop' });
      continue;
    }
    if (FILLERS.has(w)) {
      out.push({ term: w, kind: 'filler' });
      continue;
    }
    const st = stem(w);
    out.push({ term: SYNONYMS.get(st) ?? st, kind: entities.has(w) ? 'entity' : 'word' });
  }
  return out;
}

const WEIGHT: Record<Token['kind'], number> = { number: 3, negation: 2.5, question: 1.2, entity: 1.6, word: 1, stop: 0.08, filler: 0.08 };

/** 32-bit FNV-1a, then a murmur-style finaliser so nearby strings land far apart. */
function hash(s: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Adds a feature: its hash picks the slot and the sign (signed hashing keeps collisions unbiased). */
function add(v: Float32Array, feature: string, weight: number): void {
  const h = hash(feature, 0x9e3779b9);
  v[h % v.length]! += h & 0x80000000 ? -weight : weight;
}

/** The feature vector of one text, unnormalised. */
export function features(text: string, dimension: number): Float32Array {
  const v = new Float32Array(dimension);
  const tokens = tokenize(text);
  const counts = new Map<string, { kind: Token['kind']; n: number }>();
  for (const t of tokens) {
    const c = counts.get(t.term);
    if (c) c.n++;
    else counts.set(t.term, { kind: t.kind, n: 1 });
  }
  for (const [term, { kind, n }] of counts) {
    // Sublinear in repetition: saying a word twice does not make a text twice as much about it.
    const w = WEIGHT[kind] * (1 + Math.log(n));
    add(v, `w:${term}`, w);
    if (kind === 'word' || kind === 'entity') {
      // Character n-grams make inflections and typos that the stemmer misses still overlap.
      const padded = `<${term}>`;
      const grams: string[] = [];
      for (let len = 3; len <= 4; len++) for (let i = 0; i + len <= padded.length; i++) grams.push(padded.slice(i, i + len));
      const gw = (1.2 * w) / Math.sqrt(grams.length);
      for (const g of grams) add(v, `c:${g}`, gw);
    }
  }
  // Content-word bigrams keep some order ("dog bites man" is not "man bites dog"); light, as paraphrases reorder.
  const content = tokens.filter((t) => t.kind !== 'stop' && t.kind !== 'filler' && t.kind !== 'question');
  for (let i = 0; i + 1 < content.length; i++) add(v, `b:${content[i]!.term} ${content[i + 1]!.term}`, 0.7);
  // A directional preposition with its object: "from mysql" / "to postgresql" say which way a request goes.
  tokens.forEach((t, i) => {
    if (t.kind !== 'stop' || !DIRECTIONAL.has(t.term)) return;
    const object = tokens.slice(i + 1).find((o) => o.kind === 'word' || o.kind === 'entity' || o.kind === 'number');
    if (object) add(v, `d:${t.term} ${object.term}`, 0.9);
  });
  return v;
}

export class OfflineEmbedder implements Embedder {
  readonly dimension: number;
  readonly id: string;

  constructor(opts: OfflineEmbedderOptions = {}) {
    this.dimension = opts.dimension ?? 256;
    this.id = `offline-hash-${OFFLINE_EMBEDDER_VERSION}/${this.dimension}`;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    signal?.throwIfAborted();
    return texts.map((t) => normalise(features(t, this.dimension)));
  }
}
