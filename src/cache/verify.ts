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
}

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

function facts(text: string): Facts {
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
      quoted.some((q) => q.split(/\s+/).includes(lower)) ||
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
  return { words, numbers, measures, units, quoted, negations, roles, time, tense: past && !future ? 'past' : future && !past ? 'future' : undefined };
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const sameBag = (a: string[], b: string[]) => a.length === b.length && sorted(a).every((x, i) => x === sorted(b)[i]);

/** "One" is often an article ("calories in one banana" = "in a banana"): a lone 1 on one side is not a difference. */
function numbersDiffer(a: string[], b: string[]): boolean {
  const strip = (xs: string[]) => xs.filter((x) => x !== '1');
  return !sameBag(strip(a), strip(b));
}

function entitiesOf(f: Facts): string[] {
  return [...new Set(f.words.filter((w) => w.entity && !STOP.has(w.raw)).map((w) => w.stem))];
}

/** An entity of one question that the other never mentions (in any case). */
function missingEntity(a: Facts, b: Facts): string | undefined {
  const present = new Set(b.words.map((w) => w.stem));
  const bText = b.words.map((w) => w.raw).join(' ');
  for (const e of entitiesOf(a)) if (!present.has(e)) return e;
  for (const q of a.quoted) if (!bText.includes(q.replace(/[^\p{L}\p{N}\s'_-]/gu, ' ').replace(/\s+/g, ' ').trim())) return `"${q}"`;
  return undefined;
}

/** A word of one written with a negative prefix in the other ("lock" / "unlock", "legal" / "illegal"). */
function prefixNegation(a: Facts, b: Facts): string | undefined {
  const bStems = new Set(b.words.map((w) => w.stem));
  const aStems = new Set(a.words.map((w) => w.stem));
  for (const w of a.words) {
    for (const p of NEGATIVE_PREFIXES) {
      if (w.stem.length > p.length + 3 && w.stem.startsWith(p) && bStems.has(w.stem.slice(p.length)) && !aStems.has(w.stem.slice(p.length))) return `${w.raw} / ${w.stem.slice(p.length)}`;
    }
  }
  return undefined;
}

function antonym(a: Facts, b: Facts): string | undefined {
  const as = new Set(a.words.map((w) => w.stem).concat(a.words.map((w) => w.raw)));
  const bs = new Set(b.words.map((w) => w.stem).concat(b.words.map((w) => w.raw)));
  for (const [x, y] of ANTONYMS) {
    if (as.has(x) && bs.has(y) && !as.has(y) && !bs.has(x)) return `${x} / ${y}`;
    if (as.has(y) && bs.has(x) && !as.has(x) && !bs.has(y)) return `${y} / ${x}`;
  }
  return undefined;
}

/** The same object under another role in the other question ("to euros" there, "from euros" or "to dollars" here). */
function swappedRole(a: Facts, b: Facts): string | undefined {
  const bStems = new Set(b.words.map((w) => w.stem));
  for (const [role, object] of a.roles) {
    const other = b.roles.get(role);
    if (other !== undefined && other !== object && bStems.has(object)) return `${role} ${object} / ${role} ${other}`;
  }
  return undefined;
}

/** "Did Alice call Bob" / "Did Bob call Alice": x … verb … y in one, y … verb … x in the other. */
function swappedAroundVerb(a: Facts, b: Facts): string | undefined {
  const content = (f: Facts) => f.words.filter((w) => !STOP.has(w.raw) && !ROLE_WORDS.has(w.raw));
  const firstIndex = (ws: Word[]) => {
    const m = new Map<string, number>();
    ws.forEach((w, i) => m.has(w.stem) || m.set(w.stem, i));
    return m;
  };
  const ca = content(a);
  const ia = firstIndex(ca);
  const ib = firstIndex(content(b));
  // Only a reordering of the same words: a paraphrase that rewords as it reorders has no roles to swap.
  if (sorted(ia.keys()).join() !== sorted(ib.keys()).join()) return undefined;
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
  const content = (f: Facts) => new Set(f.words.filter((w) => !STOP.has(w.raw) && !FRAMING.has(w.stem)).map((w) => w.stem));
  const ca = content(a);
  const cb = content(b);
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
  const a = facts(asked);
  const b = facts(cached);
  if (numbersDiffer(a.numbers, b.numbers)) return { verdict: 'number_mismatch', detail: `${sorted(a.numbers).join(' ')} ≠ ${sorted(b.numbers).join(' ')}` };
  const ua = sorted(new Set(a.units));
  const ub = sorted(new Set(b.units));
  // A side that names no unit ("a five year old" / "five") is not a disagreement; two that name different ones are.
  if ((ua.length > 0 && ub.length > 0 && ua.join() !== ub.join()) || (a.measures.length > 0 && b.measures.length > 0 && !sameBag(a.measures, b.measures))) {
    return { verdict: 'unit_mismatch', detail: `${[...a.measures, ...ua].join(' ')} ≠ ${[...b.measures, ...ub].join(' ')}` };
  }
  const missing = missingEntity(a, b) ?? missingEntity(b, a);
  if (missing) return { verdict: 'entity_mismatch', detail: missing };
  if (a.negations % 2 !== b.negations % 2) return { verdict: 'negation_mismatch', detail: `${a.negations} / ${b.negations}` };
  const prefixed = prefixNegation(a, b) ?? prefixNegation(b, a);
  if (prefixed) return { verdict: 'negation_mismatch', detail: prefixed };
  const direction = swappedRole(a, b) ?? swappedRole(b, a) ?? antonym(a, b) ?? swappedAroundVerb(a, b);
  if (direction) return { verdict: 'direction_mismatch', detail: direction };
  const ta = sorted(new Set(a.time));
  const tb = sorted(new Set(b.time));
  if (ta.join() !== tb.join()) return { verdict: 'time_mismatch', detail: `${ta.join(' ') || '-'} / ${tb.join(' ') || '-'}` };
  if (a.tense && b.tense && a.tense !== b.tense) return { verdict: 'time_mismatch', detail: `${a.tense} / ${b.tense}` };
  const qa = sorted(new Set(a.words.map((w) => w.raw).filter((w) => ASKS.has(w))));
  const qb = sorted(new Set(b.words.map((w) => w.raw).filter((w) => ASKS.has(w))));
  if (qa.length > 0 && qb.length > 0 && qa.join() !== qb.join()) return { verdict: 'word_mismatch', detail: `${qa.join(' ')} / ${qb.join(' ')}` };
  const swapped = substitution(a, b);
  if (swapped) return { verdict: 'word_mismatch', detail: swapped };
  return { verdict: 'verified' };
}
