/**
 * The check a semantic hit must pass before it is served: does the cached question ask the same thing as the new
 * one? Similar vectors are not enough — every embedder scores "convert 5 km to miles" and "… 8 km …", "buy" and
 * "sell", "from A to B" and "from B to A" as near twins. So the two questions must agree on numbers (with their
 * units), named entities (capitalised words, quoted strings, codes), negation, direction (the roles around
 * from/to/into/than, the order of a subject and an object around a verb, antonyms such as buy/sell) and time.
 * Pure and cheap (microseconds): it reads two strings and says `verified` or why not. Chosen and calibrated by
 * bench/cache-verify.ts on test/fixtures/cache-pairs.json.
 */

import { ANTONYMS, CONTRACTIONS, DETERMINERS, FUTURE, NEGATIONS, NEGATIVE_PREFIXES, NUMBER_WORDS, PAST, ROLE_WORDS, STOP, TIME_MODIFIERS, TIME_NOUNS, TIME_SAME, TIME_WORDS, UNITS } from './verify-lexicon.js';
export type Refusal = 'number_mismatch' | 'unit_mismatch' | 'entity_mismatch' | 'negation_mismatch' | 'direction_mismatch' | 'time_mismatch' | 'word_mismatch';
export type Verdict = 'verified' | Refusal;

export interface Verification {
  verdict: Verdict;
  /** What disagreed, for logs ("5 ≠ 8"). */
  detail?: string;
}

interface Word {
  /** Lowercased, as written. */
  raw: string;
  /** Lowercased, stemmed (plural, comparative, -ing/-ed). */
  stem: string;
  /** Written with a capital where a sentence does not start, all capitals, with digits and letters, or quoted. */
  entity: boolean;
}

interface Facts {
  words: Word[];
  numbers: string[];
  /** "5 km": a number with the unit right after it (or a currency sign before it). */
  measures: string[];
  units: string[];
  quoted: string[];
  negations: number;
  roles: Map<string, string>;
  time: string[];
  tense: 'past' | 'future' | undefined;
  /** Below: what the checks compare, derived once per question (a lookup checks one query against several entries). */
  stems: Set<string>;
  /** Stems and raw words alike (the antonym check matches either). */
  lexemes: Set<string>;
  /** The raw words joined by spaces (quoted strings are searched in it). */
  text: string;
  entities: string[];
  /** Quoted strings, each with the form searched for in the other question's text. */
  quotedForms: Array<[quoted: string, form: string]>;
  /** Words written with a negative prefix: the word and its stem without the prefix. */
  prefixed: Array<[raw: string, base: string]>;
  /** Numbers without lone 1s, sorted. */
  numberBag: string[];
  measureBag: string[];
  /** Distinct units sorted and joined, and how many. */
  unitKey: string;
  unitCount: number;
  /** Distinct time words, sorted, and the question words of ASKS, likewise. */
  times: string[];
  asks: string[];
  /** Content words (no stop or role words) and each stem's first position among them, for swappedAroundVerb. */
  content: Word[];
  firstIndex: Map<string, number>;
  contentKey: string;
  /** Content stems without framing words, for substitution. */
  substance: Set<string>;
}

/** What verify compares of one question, computed once: keep it with a cached entry and compare with verifyFacts. */
export type QuestionFacts = Readonly<Facts>;

/** A light stemmer: plurals, comparatives and superlatives, -ing and -ed, enough to match inflections. */
export function stem(w: string): string {
  if (w.length <= 3 || /\d/.test(w)) return w;
  let s = w;
  if (s.endsWith('ies') && s.length > 4) s = `${s.slice(0, -3)}y`;
  else if (s.endsWith('sses')) s = s.slice(0, -2);
  else if (s.endsWith('s') && !s.endsWith('ss') && !s.endsWith('us') && !s.endsWith('is')) s = s.slice(0, -1);
  for (const suffix of ['iest', 'ier']) if (s.endsWith(suffix) && s.length > suffix.length + 2) return `${s.slice(0, -suffix.length)}y`;
  for (const suffix of ['est', 'er', 'ing', 'ed']) {
    if (s.endsWith(suffix) && s.length - suffix.length >= 3) {
      let base = s.slice(0, -suffix.length);
      if (/([bdgmnprt])\1$/.test(base)) base = base.slice(0, -1);
      return base.length > 3 ? base.replace(/e$/, '') : base;
    }
  }
  // A final e comes and goes with the suffixes ("close" / "closed"): dropped on both sides alike.
  return s.length > 3 ? s.replace(/e$/, '') : s;
}

/** The facts of one question, for verifyFacts. */
export function factsOf(text: string): Facts {
  let s = text.normalize('NFKC').replace(/[\u2018\u2019\u02bc`]/g, "'").replace(/[\u201c\u201d]/g, '"');
  const quoted: string[] = [];
  s = s.replace(/(^|[\s(:])(["'])([^"']{1,80})\2(?=$|[\s).,;:!?])/g, (_m, pre: string, _q: string, inner: string) => {
    quoted.push(inner.trim().toLowerCase());
    return `${pre} ${inner} `;
  });
  for (const [re, to] of CONTRACTIONS) s = s.replace(re, to);
  // Thousands separators inside numbers go; a hyphen between a number and a word ("3-day") splits.
  s = s.replace(/(\d),(?=\d{3}\b)/g, '$1').replace(/(\d)-(?=\p{L})/gu, '$1 ');
  const words: Word[] = [];
  const numbers: string[] = [];
  const measures: string[] = [];
  const units: string[] = [];
  let negations = 0;
  let sentenceStart = true;
  const re = /[$€£]?\d+(?:\.\d+)?(?:%|s\b)?|°[cf]\b|km\/h|[\p{L}\p{N}][\p{L}\p{N}'_-]*|[.!?:;]|[$€£%]/giu;
  const tokens = [...s.matchAll(re)].map((m) => m[0]);
  const quotedWords = new Set(quoted.flatMap((q) => q.split(/\s+/)));
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (/^[.!?:;]$/.test(tok)) {
      sentenceStart = true;
      continue;
    }
    const lower = tok.toLowerCase();
    const numMatch = /^([$€£]?)(\d+(?:\.\d+)?)(%|s)?$/.exec(tok);
    const asWord = NUMBER_WORDS[lower];
    if (numMatch || asWord !== undefined) {
      const value = numMatch ? `${numMatch[2]}${numMatch[3] === 's' ? 's' : ''}` : asWord!;
      numbers.push(value);
      const next = tokens[i + 1]?.toLowerCase();
      const unit = numMatch?.[1] ? UNITS[numMatch[1]] : numMatch?.[3] === '%' ? 'percent' : next !== undefined ? (UNITS[next] ?? (next === 'nautical' ? 'nmi' : undefined)) : undefined;
      if (unit) measures.push(`${value} ${unit}`);
      if (unit && (numMatch?.[1] || numMatch?.[3] === '%')) units.push(unit);
      sentenceStart = false;
      continue;
    }
    const unit = UNITS[lower];
    if (unit) units.push(unit);
    if (NEGATIONS.has(lower)) negations++;
    const entity =
      quotedWords.has(lower) ||
      (/^\p{Lu}/u.test(tok) && !sentenceStart && tok !== 'I') ||
      (/^\p{Lu}{2,}$/u.test(tok) && !UNITS[lower]) ||
      (/\p{L}/u.test(tok) && /\d/.test(tok)) ||
      /^\p{Ll}+\p{Lu}/u.test(tok);
    words.push({ raw: lower, stem: stem(lower), entity });
    sentenceStart = false;
  }
  const roles = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.raw;
    if (!ROLE_WORDS.has(w) || roles.has(w)) continue;
    let j = i + 1;
    while (j < words.length && DETERMINERS.has(words[j]!.raw)) j++;
    const object = words[j];
    if (object && !STOP.has(object.raw)) roles.set(w === 'towards' || w === 'toward' || w === 'onto' ? 'to' : w === 'into' ? 'to' : w, object.stem);
  }
  const time: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.raw;
    if (TIME_MODIFIERS.has(w) && words[i + 1] && TIME_NOUNS.has(words[i + 1]!.stem)) {
      time.push(`${w} ${words[i + 1]!.stem}`);
      i++;
    } else if (TIME_WORDS.has(w) || TIME_WORDS.has(words[i]!.stem)) {
      time.push(TIME_SAME[w] ?? words[i]!.stem);
    }
  }
  const raws = words.map((w) => w.raw);
  const past = raws.some((w) => PAST.has(w));
  const future = raws.some((w) => FUTURE.has(w)) || /\bgoing to\b/i.test(s);
  const tense = past && !future ? 'past' : future && !past ? 'future' : undefined;
  const stems = new Set(words.map((w) => w.stem));
  const prefixed: Array<[string, string]> = [];
  for (const w of words) {
    for (const p of NEGATIVE_PREFIXES) if (w.stem.length > p.length + 3 && w.stem.startsWith(p)) prefixed.push([w.raw, w.stem.slice(p.length)]);
  }
  const units_ = sorted(new Set(units));
  const asks = sorted(new Set(raws.filter((w) => ASKS.has(w))));
  const content = words.filter((w) => !STOP.has(w.raw) && !ROLE_WORDS.has(w.raw));
  const firstIndex = new Map<string, number>();
  content.forEach((w, i) => firstIndex.has(w.stem) || firstIndex.set(w.stem, i));
  return {
    words, numbers, measures, units, quoted, negations, roles, time, tense,
    stems,
    lexemes: new Set(words.map((w) => w.stem).concat(raws)),
    text: raws.join(' '),
    entities: [...new Set(words.filter((w) => w.entity && !STOP.has(w.raw)).map((w) => w.stem))],
    quotedForms: quoted.map((q) => [q, q.replace(/[^\p{L}\p{N}\s'_-]/gu, ' ').replace(/\s+/g, ' ').trim()]),
    prefixed,
    numberBag: sorted(numbers.filter((x) => x !== '1')),
    measureBag: sorted(measures),
    unitKey: units_.join(),
    unitCount: units_.length,
    times: sorted(new Set(time)),
    asks,
    content,
    firstIndex,
    contentKey: sorted(firstIndex.keys()).join(),
    substance: new Set(words.filter((w) => !STOP.has(w.raw) && !FRAMING.has(w.stem)).map((w) => w.stem)),
  };
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
/** Two bags of words, each already sorted, hold the same words. */
const sameSorted = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** An entity of one question that the other never mentions (in any case). */
function missingEntity(a: Facts, b: Facts): string | undefined {
  for (const e of a.entities) if (!b.stems.has(e)) return e;
  for (const [q, form] of a.quotedForms) if (!b.text.includes(form)) return `"${q}"`;
  return undefined;
}

/** A word of one written with a negative prefix in the other ("lock" / "unlock", "legal" / "illegal"). */
function prefixNegation(a: Facts, b: Facts): string | undefined {
  for (const [raw, base] of a.prefixed) if (b.stems.has(base) && !a.stems.has(base)) return `${raw} / ${base}`;
  return undefined;
}

function antonym(a: Facts, b: Facts): string | undefined {
  const as = a.lexemes;
  const bs = b.lexemes;
  for (const [x, y] of ANTONYMS) {
    if (as.has(x) && bs.has(y) && !as.has(y) && !bs.has(x)) return `${x} / ${y}`;
    if (as.has(y) && bs.has(x) && !as.has(x) && !bs.has(y)) return `${y} / ${x}`;
  }
  return undefined;
}

/** The same object under another role in the other question ("to euros" there, "from euros" or "to dollars" here). */
function swappedRole(a: Facts, b: Facts): string | undefined {
  for (const [role, object] of a.roles) {
    const other = b.roles.get(role);
    if (other !== undefined && other !== object && b.stems.has(object)) return `${role} ${object} / ${role} ${other}`;
  }
  return undefined;
}

/** "Did Alice call Bob" / "Did Bob call Alice": x … verb … y in one, y … verb … x in the other. */
function swappedAroundVerb(a: Facts, b: Facts): string | undefined {
  // Only a reordering of the same words: a paraphrase that rewords as it reorders has no roles to swap.
  if (a.contentKey !== b.contentKey) return undefined;
  const ca = a.content;
  const ia = a.firstIndex;
  const ib = b.firstIndex;
  const shared = [...ia.keys()].filter((k) => ib.has(k));
  for (const x of shared) {
    for (const y of shared) {
      if (x === y || !(ia.get(x)! < ia.get(y)!) || !(ib.get(y)! < ib.get(x)!)) continue;
      for (const v of shared) {
        const verb = ca[ia.get(v)!]!;
        if (verb.entity || v === x || v === y) continue;
        if (ia.get(x)! < ia.get(v)! && ia.get(v)! < ia.get(y)! && ib.get(y)! < ib.get(v)! && ib.get(v)! < ib.get(x)!) return `${x} ${v} ${y} / ${y} ${v} ${x}`;
      }
    }
  }
  return undefined;
}

/** Question words that ask for different things ("when was X built" / "why was X built"); "how" and "what" frame. */
const ASKS = new Set(['when', 'why', 'where', 'who']);

/** How a request is framed, not what it asks: "define X", "what is X", "explain X" are one question. */
const FRAMING = new Set(['giv', 'shar', 'sug', 'recommend', 'explain', 'defin', 'tell', 'list', 'describ', 'nam', 'exactly', 'long', 'much', 'many', 'way', 'best', 'good', 'main', 'mainly']);

/**
 * One word swapped for another and nothing else changed ("what do cats eat" / "… rabbits eat", "when was X built"
 * / "why was X built"): lowercase entities and intents the capital-letter rule cannot see. A spelling variant
 * (one edit) is not a swap.
 */
function substitution(a: Facts, b: Facts): string | undefined {
  const ca = a.substance;
  const cb = b.substance;
  const onlyA = [...ca].filter((w) => !cb.has(w));
  const onlyB = [...cb].filter((w) => !ca.has(w));
  if (onlyA.length !== 1 || onlyB.length !== 1) return undefined;
  const [x, y] = [onlyA[0]!, onlyB[0]!];
  if (SYNONYMS.get(x) !== undefined && SYNONYMS.get(x) === SYNONYMS.get(y)) return undefined;
  if (editDistance(x, y) <= 1) return undefined;
  return `${x} / ${y}`;
}

/** Interchangeable everyday words: swapping one for another is a paraphrase. */
const SYNONYMS = new Map<string, string>();
for (const group of ['buy purchase', 'make create build', 'delete remove erase', 'fix repair', 'start begin', 'end finish', 'big large', 'small little tiny', 'fast quick', 'show display', 'error issue problem', 'car automobile', 'movie film', 'cheap inexpensive', 'kid child', 'choose pick select', 'help assist', 'quit stop', 'way method', 'tip advice', 'step instruction', 'alter change modify', 'simple easy', 'calculate compute']) {
  const words = group.split(' ').map(stem);
  for (const w of words) SYNONYMS.set(w, words[0]!);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** Verifies that the cached question `cached` asks what `asked` asks, beyond their vectors' similarity. */
export function verify(asked: string, cached: string): Verification {
  return verifyFacts(factsOf(asked), factsOf(cached));
}

/** verify on facts computed beforehand (factsOf): the same verdict, without reading either text again. */
export function verifyFacts(a: QuestionFacts, b: QuestionFacts): Verification {
  if (!sameSorted(a.numberBag, b.numberBag)) return { verdict: 'number_mismatch', detail: `${sorted(a.numbers).join(' ')} ≠ ${sorted(b.numbers).join(' ')}` };
  // A side that names no unit ("a five year old" / "five") is not a disagreement; two that name different ones are.
  if ((a.unitCount > 0 && b.unitCount > 0 && a.unitKey !== b.unitKey) || (a.measures.length > 0 && b.measures.length > 0 && !sameSorted(a.measureBag, b.measureBag))) {
    const ua = sorted(new Set(a.units));
    const ub = sorted(new Set(b.units));
    return { verdict: 'unit_mismatch', detail: `${[...a.measures, ...ua].join(' ')} ≠ ${[...b.measures, ...ub].join(' ')}` };
  }
  const missing = missingEntity(a, b) ?? missingEntity(b, a);
  if (missing) return { verdict: 'entity_mismatch', detail: missing };
  if (a.negations % 2 !== b.negations % 2) return { verdict: 'negation_mismatch', detail: `${a.negations} / ${b.negations}` };
  const prefixed = prefixNegation(a, b) ?? prefixNegation(b, a);
  if (prefixed) return { verdict: 'negation_mismatch', detail: prefixed };
  const direction = swappedRole(a, b) ?? swappedRole(b, a) ?? antonym(a, b) ?? swappedAroundVerb(a, b);
  if (direction) return { verdict: 'direction_mismatch', detail: direction };
  if (a.times.join() !== b.times.join()) return { verdict: 'time_mismatch', detail: `${a.times.join(' ') || '-'} / ${b.times.join(' ') || '-'}` };
  if (a.tense && b.tense && a.tense !== b.tense) return { verdict: 'time_mismatch', detail: `${a.tense} / ${b.tense}` };
  if (a.asks.length > 0 && b.asks.length > 0 && a.asks.join() !== b.asks.join()) return { verdict: 'word_mismatch', detail: `${a.asks.join(' ')} / ${b.asks.join(' ')}` };
  const swapped = substitution(a, b);
  if (swapped) return { verdict: 'word_mismatch', detail: swapped };
  return { verdict: 'verified' };
}
